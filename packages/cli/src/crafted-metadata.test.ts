import { hostTensor, Rng } from '@nnd/core';
import { parseTrainConfig, writeCheckpoint } from '@nnd/train';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCaptured } from './cli-capture.test-support.js';

// Metadata files are data: a crafted one must give a one-line error (exit 1), never make nnd read, print or write elsewhere.
const directory = mkdtempSync(join(tmpdir(), 'nnd-crafted-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
const secret = join(directory, 'secret.txt');
writeFileSync(secret, 'THE-SECRET');

async function checkpointIn(checkpoints: string, step = 3): Promise<string> {
  return writeCheckpoint(checkpoints, {
    step,
    batchesConsumed: step,
    grouped: false,
    members: [
      {
        architecture: 'topk',
        config: { act_size: 4, dict_size: 8, top_k: 2 },
        trainConfig: parseTrainConfig({ batch_size: 8, num_tokens: 800 }),
        rngState: new Rng(1).state(),
        params: { W_enc: hostTensor('float32', [4, 8], new Float32Array(32)) },
        firstMoments: { W_enc: hostTensor('float32', [4, 8], new Float32Array(32)) },
        secondMoments: { W_enc: hostTensor('float32', [4, 8], new Float32Array(32)) },
        state: {},
      },
    ],
  });
}

/** A run directory under `runs/` whose config.json records `config`. */
function runDirectory(name: string, config: unknown): string {
  const run = join(directory, 'runs', name);
  mkdirSync(run, { recursive: true });
  writeFileSync(join(run, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  return run;
}

function expectOneLineError(result: { code: number; stdout: string; stderr: string }, message: string | RegExp): void {
  expect(result.code).toBe(1);
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(message);
  expect(result.stderr + result.stdout).not.toContain('THE-SECRET');
}

describe('crafted metadata', () => {
  it('config.json checkpoint_dir out of the runs folder: nnd eval and --resume refuse it, naming the field', async () => {
    const foreign = await checkpointIn(join(directory, 'foreign', 'checkpoints'), 9);
    for (const [name, recorded] of [
      ['absolute', join(directory, 'foreign', 'checkpoints')],
      ['dotdot', '../../foreign/checkpoints'],
    ]) {
      const run = runDirectory(name, { checkpoint_dir: recorded });
      expectOneLineError(await runCaptured(['eval', run]), `config.json checkpoint_dir is ${JSON.stringify(recorded)}`);
      expectOneLineError(await runCaptured(['train', '--set', `run_dir=${join(directory, 'runs')}`, '--resume', run]), `config.json checkpoint_dir is ${JSON.stringify(recorded)}`);
    }
    expect(existsSync(join(foreign, 'evaluation.json'))).toBe(false);
  });

  it('trainer_state.json members[].directory out of the checkpoint: nnd eval refuses before reading', async () => {
    const checkpoint = await checkpointIn(join(directory, 'eval-target'));
    const state = JSON.parse(readFileSync(join(checkpoint, 'trainer_state.json'), 'utf8'));
    state.members[0].directory = '../../foreign/checkpoints/step_9';
    writeFileSync(join(checkpoint, 'trainer_state.json'), JSON.stringify(state));
    expectOneLineError(await runCaptured(['eval', checkpoint]), /trainer_state\.json members\[0\]\.directory is "\.\.\/\.\.\/foreign\/checkpoints\/step_9", which leads outside that folder/);
  });

  it('a corrupt trainer state is reported as a checkpoint that cannot be read, not as a resume', async () => {
    const checkpoint = await checkpointIn(join(directory, 'corrupt'));
    writeFileSync(join(checkpoint, 'trainer_state.json'), JSON.stringify({ format: 'nnd-trainer-state', version: 1, step: 3, batches_consumed: 3, grouped: false, members: 'x' }));
    const result = await runCaptured(['eval', checkpoint]);
    expectOneLineError(result, /Cannot read the checkpoint ".*step_3": trainer_state\.json is malformed \(members: /);
    expect(result.stderr).not.toContain('resume');
  });

  it('a config.json that is not a JSON object gives a typed error, not a stack trace', async () => {
    for (const [name, text] of [
      ['not-json', '{ "checkpoint_dir": '],
      ['array', '[1, 2]'],
    ]) {
      const run = runDirectory(name, text);
      expectOneLineError(await runCaptured(['eval', run]), new RegExp(`${name}/config\\.json (is not JSON|must hold a JSON object)`));
    }
  });
});
