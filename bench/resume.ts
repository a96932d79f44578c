import { createOnnxBackend } from '@nnd/backend-onnx';
// Imported by path: the bench workspace does not depend on @nnd/activations or @nnd/models.
import { ActivationsStore, hookedTransformerActivations, openDataset } from '../packages/activations/src/index.js';
import { HookedTransformer } from '../packages/models/src/index.js';
import type { Benchmark } from './benchmarks.js';

/**
 * What resuming costs the activation store, on the LM that ships with nnd
 * and `pnpm start`'s store settings: serving and dropping `--batches`
 * batches (what a resume without a recorded position does: the model runs
 * for every batch again) against `seek(batches, position)` from the
 * position a checkpoint records (one buffer harvested again), each up to
 * the first batch after the resume point. The replay grows with the
 * batches; the seek does not, so `replay_ms_per_batch * 10000` is the
 * replay of a run 10,000 steps in.
 */
export const resumeBenchmark: Benchmark = {
  options: {
    batches: { type: 'string', default: '200' },
    'batch-size': { type: 'string', default: '4096' },
    'model-batch-size': { type: 'string', default: '32' },
    'batches-in-buffer': { type: 'string', default: '16' },
  },
  async run(options, log) {
    const batches = Number(options.batches);
    const backend = createOnnxBackend({ device: 'cpu' });
    const model = await HookedTransformer.fromPretrained('tiny-lm', { backend, modelBatchSize: Number(options['model-batch-size']) });
    const settings = {
      model: hookedTransformerActivations(model),
      dataset: await openDataset('sotu'),
      hookPoint: 'blocks.2.hook_resid_pre',
      sequenceLength: 128,
      modelBatchSize: Number(options['model-batch-size']),
      batchesInBuffer: Number(options['batches-in-buffer']),
      batchSize: Number(options['batch-size']),
      seed: 49,
      documentTokenLimit: Infinity,
      keepRemainder: true,
      repeatDataset: true,
      log,
    };
    let start = performance.now();
    const replayed = new ActivationsStore(settings);
    for (let index = 0; index < batches; index++) await replayed.nextBatch();
    // What the checkpoint after `batches` steps records (a cheap read, inside the timing as it is in training).
    const checkpointPosition = JSON.parse(JSON.stringify(replayed.resumePosition())) as unknown;
    const expected = await replayed.nextBatch();
    const replayMs = performance.now() - start;
    log(`replayed ${batches} batches and took the next in ${(replayMs / 1000).toFixed(1)} s`);

    const recorded = new ActivationsStore({ ...settings, log: () => undefined });
    start = performance.now();
    await recorded.seek(batches, checkpointPosition);
    const first = await recorded.nextBatch();
    const seekMs = performance.now() - start;
    const same = first.length === expected.length && first.every((value, index) => value === expected[index]);
    log(`seek(${batches}, position) and the next batch in ${(seekMs / 1000).toFixed(2)} s; same batch as the replay: ${same}`);
    await model.dispose();
    await backend.dispose();
    const perBatch = replayMs / (batches + 1);
    return {
      batches,
      replay_ms: Math.round(replayMs),
      replay_ms_per_batch: Math.round(perBatch),
      seek_ms: Math.round(seekMs),
      same_batch: same,
      replay_10000_steps_s_estimate: Math.round((perBatch * 10_001) / 1000),
    };
  },
};
