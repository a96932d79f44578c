import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '@nnd/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LoggingError } from './errors/index.js';
import { createLogger } from './create-logger.js';
import { parseProgressLine } from './progress-line.js';
import { readRunDirectory } from './run-directory.js';
import { wandbRequested } from './wandb-settings.js';

const config = { model_name: 'EleutherAI/pythia-70m', hook_point: 'blocks.3.hook_resid_post', dict_size: 4096, sae_type: 'batchtopk', top_k: 16, lr: 1e-5 };

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'nnd-logging-create-'));
});
afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe('createLogger', () => {
  it('logs once to the run directory and the console', async () => {
    const chunks: string[] = [];
    const logger = createLogger({ runsDirectory: root, console: { stream: { write: (text: string) => chunks.push(text) }, lineIntervalMs: 0 }, env: {} });
    expect(() => logger.runDirectory).toThrow(LoggingError);
    await logger.init(config, { totalSteps: 3 });
    // The reference's name; `/` cannot be in a directory name.
    expect(logger.runDirectory).toBe(path.join(root, 'EleutherAI__pythia-70m_blocks.3.hook_resid_post_4096_batchtopk_16_1e-05'));
    expect(logger.wandb).toBeUndefined();
    for (let step = 0; step < 3; step += 1) logger.log({ loss: step, l0_norm: 16 }, step);
    expect(logger.checkpointDirectory(2)).toBe(path.join(logger.runDirectory, 'checkpoints', 'step_2'));
    await logger.finish();
    expect(readRunDirectory(logger.runDirectory).metrics.map((row) => row.step)).toEqual([0, 1, 2]);
    expect(
      chunks
        .join('')
        .trimEnd()
        .split('\n')
        .map((line) => parseProgressLine(line)?.completedSteps),
    ).toEqual([1, 2, 3]);
  });

  it('takes config.name, and asks for one when the reference fields are missing', async () => {
    const named = createLogger({ runsDirectory: root, console: false, env: {} });
    await named.init({ name: 'my-run' });
    expect(path.basename(named.runDirectory)).toBe('my-run');
    await named.finish();
    await expect(createLogger({ runsDirectory: root, console: false, env: {} }).init({ lr: 1 })).rejects.toThrow(ConfigError);
  });
});

describe('wandbRequested', () => {
  it('follows config.wandb, then wandb_project or WANDB_API_KEY; WANDB_MODE=disabled wins', () => {
    expect(wandbRequested({}, {})).toBe(false);
    expect(wandbRequested({ wandb: true }, {})).toBe(true);
    expect(wandbRequested({ wandb_project: 'saes' }, {})).toBe(true);
    expect(wandbRequested({}, { WANDB_API_KEY: 'k' })).toBe(true);
    expect(wandbRequested({ wandb: false, wandb_project: 'saes' }, { WANDB_API_KEY: 'k' })).toBe(false);
    expect(wandbRequested({ wandb: true }, { WANDB_MODE: 'disabled' })).toBe(false);
  });
});
