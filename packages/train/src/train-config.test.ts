import { ConfigError } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { parseTrainConfig, totalSteps } from './train-config.js';

describe('parseTrainConfig', () => {
  it('fills the seed defaults', () => {
    const config = parseTrainConfig({});
    expect(config).toEqual({
      num_tokens: 1_000_000_000,
      batch_size: 4096,
      lr: 3e-4,
      beta1: 0.9,
      beta2: 0.99,
      max_grad_norm: 100_000,
      lr_schedule: 'constant',
      lr_warmup_frac: 0,
      lr_final_frac: 0,
      log_freq: 1,
      perf_log_freq: 1000,
      checkpoint_freq: 10_000,
      seed: 49,
    });
    expect(totalSteps(config)).toBe(244140);
  });

  it('names the key, the value and the allowed values', () => {
    expect(() => parseTrainConfig({ lr: -1 })).toThrow(ConfigError);
    expect(() => parseTrainConfig({ lr: -1 })).toThrow(/'lr' is -1; allowed: a finite number > 0/);
    expect(() => parseTrainConfig({ beta2: 1 })).toThrow(/'beta2' is 1; allowed: a number in \[0, 1\)/);
    expect(() => parseTrainConfig({ batch_size: 2.5 })).toThrow(/'batch_size' is 2.5; allowed: a positive integer/);
    expect(() => parseTrainConfig({ seed: 'x' })).toThrow(/'seed' is "x"; allowed: a safe integer/);
  });

  it('rejects unknown keys instead of ignoring a typo', () => {
    expect(() => parseTrainConfig({ learning_rate: 1 })).toThrow(/unknown key\(s\) 'learning_rate'; allowed keys: num_tokens, batch_size/);
  });

  it('checks fields against each other', () => {
    expect(() => parseTrainConfig({ num_tokens: 10, batch_size: 64 })).toThrow(/'num_tokens' is 10; allowed: at least batch_size \(64\)/);
  });
});
