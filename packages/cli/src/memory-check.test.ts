import { ConfigError } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { runCaptured } from './cli-capture.test-support.js';
import { checkTrainingMemory, estimateTrainingMemory } from './memory-check.js';
import { memberConfigs, parseRunConfig } from './run-config.js';

const GIB = 1024 ** 3;

function check(overrides: Record<string, unknown>, machine = { total: 24 * GIB, free: 16 * GIB }) {
  const config = parseRunConfig(overrides);
  return checkTrainingMemory(config, memberConfigs(config), machine);
}

describe('estimateTrainingMemory', () => {
  it('counts parameters, Adam moments and gradients, feature activations and two activation buffers from the shapes', () => {
    const config = parseRunConfig({ act_size: 768, dict_size: 12288, batch_size: 4096, num_batches_in_buffer: 10, model_batch_size: 512, seq_len: 128 });
    const estimate = estimateTrainingMemory(config, memberConfigs(config));
    const parameters = 2 * 768 * 12288 + 768 + 12288;
    expect(estimate.parts.map((part) => part.bytes)).toEqual([4 * parameters, 12 * parameters, 2 * 4096 * 12288 * 4, 2 * 10 * 512 * 128 * 768 * 4]);
    expect(estimate.bytes).toBe(estimate.parts.reduce((sum, part) => sum + part.bytes, 0));
    // Two SAEs on one stream: parameters and feature activations twice, the buffer once.
    const group = parseRunConfig({ ...config, sae_type: ['topk', 'batchtopk'] });
    const groupEstimate = estimateTrainingMemory(group, memberConfigs(group));
    expect(groupEstimate.parts[0].bytes).toBe(2 * estimate.parts[0].bytes);
    expect(groupEstimate.parts[3].bytes).toBe(estimate.parts[3].bytes);
  });
});

describe('checkTrainingMemory', () => {
  it('passes the reference config on a 24 GiB machine', () => {
    expect(check({})).toBeUndefined();
    expect(check({ act_size: 768 })).toBeUndefined();
  });

  it('refuses a run larger than the machine, with both numbers and the fix', () => {
    expect(() => check({ dict_size: 1_000_000_000 })).toThrow(ConfigError);
    expect(() => check({ act_size: 768, dict_size: 1_000_000_000 })).toThrow(
      /^Invalid config: training needs at least 52\.2 TiB of memory \(parameters \(W_enc and W_dec, act_size 768 x dict_size 1000000000 each\): 5\.6 TiB; .*\), but this machine has 24\.0 GiB \(16\.0 GiB free\)\. Lower dict_size, batch_size or num_batches_in_buffer/,
    );
    expect(() => check({ batch_size: 100_000_000 })).toThrow(/feature activations \(batch_size 100000000 x dict_size 12288, before and after the activation\): 8\.9 TiB/);
  });

  it('refuses one array longer than a typed array can be, even with the memory for it', () => {
    expect(() => check({ act_size: 65536, dict_size: 65537, num_batches_in_buffer: 1, model_batch_size: 1, seq_len: 1, batch_size: 1 }, { total: 1024 ** 5, free: 1024 ** 5 })).toThrow(
      /W_enc \(act_size 65536 x dict_size 65537\) would be one array of 4295032832 values; one JavaScript typed array holds at most 4294967296/,
    );
  });

  it('warns when the run needs more than is free now', () => {
    expect(check({ act_size: 768 }, { total: 24 * GIB, free: 2 * GIB })).toMatch(/^Warning: training needs at least 4\.\d GiB of memory, and 2\.0 GiB of this machine's 24\.0 GiB is free now/);
  });
});

describe('nnd train with sizes that cannot fit', () => {
  it('fails at once with one line, before loading the model, instead of a RangeError', async () => {
    for (const set of ['dict_size=1000000000', 'batch_size=100000000']) {
      const { code, stderr } = await runCaptured(['train', '--set', set], { env: { PATH: process.env.PATH, HF_HUB_OFFLINE: '1' } });
      expect(code).toBe(1);
      expect(stderr).toMatch(
        /^nnd: Invalid config: training needs at least [\d.]+ TiB of memory .* but this machine has [\d.]+ GiB \([\d.]+ GiB free\)\. Lower dict_size, batch_size or num_batches_in_buffer\.\n$/,
      );
    }
  });

  it('fails at once under a run_dir that cannot be created (/proc/x), instead of hanging in mkdir', async () => {
    const { code, stderr } = await runCaptured(['train', '--set', 'run_dir=/proc/nnd-x/runs']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^nnd: cannot create \/proc\/nnd-x\/runs: making \/proc\/nnd-x failed \(ENOENT.*\)\. Choose a folder under a writable one\.\n$/);
  });
});
