import { readSafetensors } from '@nnd/core';
import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from './cli-capture.test-support.js';
import { tinyLanguageModelPresent, writeRandomLanguageModel } from './language-model.test-support.js';

/**
 * `nnd cache` of the streams of a run whose decompositions read and write
 * several hooks, then `nnd train` from that cache: a CLT, and a transcoder
 * that reads two of the CLT cache's four hooks. The cache is read as the live
 * store serves batches, so with the same seed the weights equal those of the
 * same run trained without the cache, bit for bit.
 */
let directory: string;
let runs: string;
let shared: Record<string, unknown>;
const cache = () => join(directory, 'clt-cache');

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-cli-multi-cache-'));
  runs = join(directory, 'runs');
  const modelName = tinyLanguageModelPresent() ? 'tiny-lm' : await writeRandomLanguageModel(join(directory, 'lm'));
  // 4 steps of 256 rows from buffers of 2 model batches of 8 x 32 tokens; the cache holds 2048 rows (4 buffers).
  shared = {
    model_name: modelName,
    dict_size: 64,
    top_k: 4,
    top_k_aux: 16,
    dataset_path: 'sotu',
    document_token_limit: 'none',
    keep_remainder: true,
    seq_len: 32,
    batch_size: 256,
    num_tokens: 256 * 4,
    model_batch_size: 8,
    num_batches_in_buffer: 2,
    perf_log_freq: 4,
    checkpoint_freq: 4,
    eval_tokens: 256,
    run_dir: runs,
    seed: 11,
  };
});
afterAll(() => rm(directory, { recursive: true, force: true }));

async function configFile(name: string, keys: Record<string, unknown>): Promise<string> {
  const path = join(directory, `${name}.yaml`);
  await writeFile(path, stringify({ ...shared, ...keys, name }));
  return path;
}

/** Every tensor of every safetensors file a run wrote for its decomposition, by file and name. */
async function weightsOf(run: string, folder: string): Promise<Record<string, Uint8Array>> {
  const weights: Record<string, Uint8Array> = {};
  const files = (await readdir(join(runs, run, folder))).filter((file) => file.endsWith('.safetensors')).sort();
  expect(files.length).toBeGreaterThan(0);
  for (const file of files) {
    for (const [name, tensor] of readSafetensors(readFileSync(join(runs, run, folder, file))).tensors) weights[`${file}:${name}`] = tensor.data;
  }
  return weights;
}

const trainingLosses = (run: string) =>
  readFileSync(join(runs, run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((row) => 'loss' in row)
    .map((row) => row.loss);

describe('nnd cache and nnd train with decompositions of several hooks', () => {
  it("harvests a CLT's four streams from one model pass into one cache, and a CLT trained from it equals one trained without it", async () => {
    const clt = { decomposition: 'clt', encoder_type: 'topk', layers: [0, 1] };
    const harvest = await runCaptured(['cache', '--config', await configFile('clt-cache', clt), '--out', cache(), '--tokens', '2048']);
    expect(harvest.code, harvest.stderr).toBe(0);
    expect(harvest.stdout).toContain('Rows: 2048 of blocks.0.ln2.hook_normalized, blocks.1.ln2.hook_normalized, blocks.0.hook_mlp_out, blocks.1.hook_mlp_out (1 shards)');
    const manifest = JSON.parse(readFileSync(join(cache(), 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ version: 2, rows: 2048 });
    expect(manifest.hooks.map(({ hook }: { hook: string }) => hook)).toHaveLength(4);

    const live = await runCaptured(['train', '--config', await configFile('clt-live', clt)]);
    expect(live.code, live.stderr).toBe(0);
    const cached = await runCaptured(['train', '--config', await configFile('clt-cached', { ...clt, activation_cache: cache() })]);
    expect(cached.code, cached.stderr).toBe(0);
    expect(cached.stderr).toMatch(
      /Activation cache .*clt-cache: 1 shards, 2048 rows of blocks\.0\.ln2\.hook_normalized, blocks\.1\.ln2\.hook_normalized, blocks\.0\.hook_mlp_out, blocks\.1\.hook_mlp_out from /,
    );
    expect(cached.stderr).toContain('step 4/4 (100.0%)');
    expect(trainingLosses('clt-cached')).toEqual(trainingLosses('clt-live'));
    expect(await weightsOf('clt-cached', 'clt')).toEqual(await weightsOf('clt-live', 'clt'));
    // Evaluation reads tokens after the cache's last shard, which no run from it trained on.
    const summary = JSON.parse(readFileSync(join(runs, 'clt-cached', 'summary.json'), 'utf8'));
    expect(summary.evaluation_start).toEqual(manifest.shards.at(-1).datasetPosition);
  });

  it("trains a transcoder from the hooks it needs of the CLT's cache, equal to training it without the cache", async () => {
    const transcoder = { decomposition: 'transcoder', encoder_type: 'topk', layer: 1 };
    const live = await runCaptured(['train', '--config', await configFile('transcoder-live', transcoder)]);
    expect(live.code, live.stderr).toBe(0);
    const cached = await runCaptured(['train', '--config', await configFile('transcoder-cached', { ...transcoder, activation_cache: cache() })]);
    expect(cached.code, cached.stderr).toBe(0);
    expect(cached.stderr).toMatch(/2048 rows of blocks\.1\.ln2\.hook_normalized, blocks\.1\.hook_mlp_out from /);
    expect(trainingLosses('transcoder-cached')).toEqual(trainingLosses('transcoder-live'));
    expect(await weightsOf('transcoder-cached', 'transcoder')).toEqual(await weightsOf('transcoder-live', 'transcoder'));
  });

  it('resumes a run trained from the cache at its checkpoint, seeking in the cache instead of reading the batches before, with the batches of an uninterrupted run', async () => {
    const sae = { decomposition: 'sae', sae_type: 'topk', hook_point: 'blocks.1.hook_mlp_out', activation_cache: cache(), checkpoint_freq: 3 };
    const config = await configFile('sae-resumed', sae);
    const uninterrupted = await runCaptured(['train', '--config', config]);
    expect(uninterrupted.code, uninterrupted.stderr).toBe(0);
    const state = JSON.parse(readFileSync(join(runs, 'sae-resumed', 'checkpoints', 'step_3', 'trainer_state.json'), 'utf8'));
    expect(state.source_position).toMatchObject({ batchesServed: 3, rowOffset: 256, buffer: { source: { epoch: 0, shard: 0, batch: 2 } } });

    // The run as a process killed after its step-3 checkpoint left it.
    const killed = join(directory, 'killed');
    const run = join(killed, 'sae-resumed');
    await cp(join(runs, 'sae-resumed'), run, { recursive: true });
    await rm(join(run, 'checkpoints', 'step_4'), { recursive: true });
    await rm(join(run, 'sae'), { recursive: true });
    await rm(join(run, 'summary.json'));
    const resumed = await runCaptured(['train', '--config', config, '--set', `run_dir=${killed}`, '--resume', run]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/CachedActivationsStore\(.*clt-cache\): continuing at batch 3 from shard 0, model batch 2 \(pass 1\), row 256 of that buffer/);
    const weights = await weightsOf(join('..', 'killed', 'sae-resumed'), 'sae');

    // Without the recorded position the trainer has the store serve and drop the 3 batches before: the same batches, so the same bits.
    const replayed = join(directory, 'replayed');
    await cp(join(runs, 'sae-resumed'), join(replayed, 'sae-resumed'), { recursive: true });
    for (const part of [join('checkpoints', 'step_4'), 'sae', 'summary.json']) await rm(join(replayed, 'sae-resumed', part), { recursive: true });
    const statePath = join(replayed, 'sae-resumed', 'checkpoints', 'step_3', 'trainer_state.json');
    const { source_position: _position, ...withoutPosition } = JSON.parse(readFileSync(statePath, 'utf8'));
    await writeFile(statePath, JSON.stringify(withoutPosition));
    const replay = await runCaptured(['train', '--config', config, '--set', `run_dir=${replayed}`, '--resume', join(replayed, 'sae-resumed')]);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stderr).not.toMatch(/continuing at batch/);
    expect(await weightsOf(join('..', 'replayed', 'sae-resumed'), 'sae')).toEqual(weights);

    // The checkpoint carries each member's last metrics, so the resumed first step takes the same forward variant
    // (an SAE without dead features skips its aux loss) and the run ends bit for bit where the uninterrupted one did.
    expect(weights).toEqual(await weightsOf('sae-resumed', 'sae'));
  });

  it('refuses a cache that lacks a stream of the run, naming what it holds and the fix', async () => {
    const sae = await runCaptured(['train', '--config', await configFile('sae-cached', { decomposition: 'sae', sae_type: 'topk', layer: 2, activation_cache: cache() })]);
    expect(sae.code).not.toBe(0);
    expect(sae.stderr).toMatch(
      /'activation_cache' is ".*clt-cache", which holds blocks\.0\.ln2\.hook_normalized \(width \d+\), .* but the run reads and writes blocks\.2\.hook_resid_pre \(width \d+\); allowed: a cache holding those hooks \(nnd cache with this run's config harvests them all\), or no activation_cache/,
    );
  });
});
