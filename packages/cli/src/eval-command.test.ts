import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@nnd/core';
import { createSae, saveSae } from '@nnd/sae';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from './cli-capture.test-support.js';
import { EXIT_CODES } from './exit-codes.js';
import { tinyShapedConfig, writeRandomLanguageModel } from './language-model.test-support.js';

/** `nnd eval` on an SAE folder that is not a run checkpoint, as SAELens or saveSae leave one. */
let directory: string;
let model: string;
const HIDDEN = 32;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-eval-folder-'));
  model = await writeRandomLanguageModel(join(directory, 'lm'), tinyShapedConfig(2, HIDDEN));
});
afterAll(() => rm(directory, { recursive: true, force: true }));

async function saeFolder(name: string, metadata: Record<string, unknown>): Promise<string> {
  const folder = join(directory, name);
  const sae = createSae({ architecture: 'topk', act_size: HIDDEN, dict_size: 64, top_k: 4 });
  await saveSae(folder, sae, sae.initialParams(new Rng(1)), sae.initialState(), metadata);
  return folder;
}

const SMALL = ['--tokens', '128', '--set', 'seq_len=32', '--set', 'model_batch_size=4', '--set', 'document_token_limit=none'];

describe('nnd eval <SAE folder>', () => {
  it("takes the model, hook and dataset from the folder's SAELens metadata", async () => {
    const folder = await saeFolder('with-metadata', { model_name: model, hook_name: 'blocks.1.hook_resid_pre', dataset_path: 'sotu' });
    const { code, stdout, stderr } = await runCaptured(['eval', folder, ...SMALL]);
    expect(stderr).toContain('on 128 tokens of sotu');
    expect(code).toBe(0);
    expect(stdout).toContain(`${folder} (topk)`);
    expect(stdout).toContain('Explained variance:');
    const evaluation = JSON.parse(readFileSync(join(folder, 'evaluation.json'), 'utf8')) as Record<string, unknown>;
    expect(evaluation).toMatchObject({ evaluated_tokens: 128 });
    expect(evaluation.step).toBeUndefined();
  });

  it('takes --model and --hook where the metadata has neither', async () => {
    const folder = await saeFolder('bare', {});
    const refused = await runCaptured(['eval', folder, ...SMALL]);
    expect(refused.code).toBe(EXIT_CODES.userError);
    expect(refused.stderr).toContain('has no model_name or hook_name; pass --model and --hook');
    const { code, stdout } = await runCaptured(['eval', folder, '--model', model, '--hook', 'blocks.0.hook_resid_post', '--set', 'dataset_path=sotu', ...SMALL]);
    expect(code).toBe(0);
    expect(stdout).toContain('Explained variance:');
  });
});
