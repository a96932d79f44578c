import { createOnnxBackend } from '@nnd/backend-onnx';
import type { HookedTransformer } from '@nnd/models';
import { createSae } from '@nnd/sae';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainDecomposition, trainDecompositionGroup } from '../train-decomposition.js';
import { createPerformanceEvaluator } from './performance-evaluator.js';
import { PERFORMANCE_METRIC_NAMES, type DecompositionEvaluation } from './decomposition-evaluation.js';
import { harvestedSource, TINY_CONFIG, tokenBatches, trainedTinyModel } from './tiny-model.test-support.js';

const HOOK = 'blocks.1.hook_resid_pre';
const backend = createOnnxBackend();
let model: HookedTransformer;
const heldOut = tokenBatches(2, 8, 16, 11);
const trainingBatches = tokenBatches(8, 8, 16, 5);
const trainConfig = { num_tokens: 64 * 120, batch_size: 64, lr: 3e-3, log_freq: 1000, perf_log_freq: 40 };
const makeSae = (seed: number) => createSae({ architecture: 'topk', act_size: TINY_CONFIG.hiddenSize, dict_size: 64, top_k: 4, seed, hook_point: HOOK });

beforeAll(async () => {
  model = await trainedTinyModel(backend);
});
afterAll(async () => {
  await model?.dispose();
  await backend.dispose();
});

function recordingLogger() {
  const rows: { step: number; metrics: Readonly<Record<string, number>> }[] = [];
  return { rows, log: (metrics: Readonly<Record<string, number>>, step: number) => void rows.push({ step, metrics }) };
}

describe("createPerformanceEvaluator as the trainer's onEvaluate", () => {
  it("logs the reference's performance/* names every perf_log_freq steps, and the SAE recovers more of the loss as it trains", async () => {
    const logger = recordingLogger();
    const evaluations: { step: number; evaluations: readonly DecompositionEvaluation[] }[] = [];
    const onEvaluate = createPerformanceEvaluator({
      model,
      backend,
      tokenBatches: heldOut,
      logger,
      onEvaluation: (step, results) => void evaluations.push({ step, evaluations: results }),
    });
    await trainDecomposition(makeSae(1), await harvestedSource(model, HOOK, trainingBatches, 64), trainConfig, { backend, onEvaluate, handleSignals: false });
    await onEvaluate.dispose();
    expect(logger.rows.map((row) => row.step)).toEqual([0, 40, 80]);
    for (const { metrics } of logger.rows) {
      expect(Object.keys(metrics)).toEqual([...PERFORMANCE_METRIC_NAMES]);
      for (const value of Object.values(metrics)) expect(Number.isFinite(value)).toBe(true);
    }
    const first = logger.rows[0].metrics;
    const last = logger.rows.at(-1)!.metrics;
    expect(last['performance/recovery_from_zero']).toBeGreaterThan(first['performance/recovery_from_zero']);
    // The model and the batches do not change, so neither do the losses that do not involve the SAE.
    expect(last['performance/original_loss']).toBe(first['performance/original_loss']);
    expect(last['performance/zero_ablation_loss']).toBe(first['performance/zero_ablation_loss']);
    expect(evaluations.map(({ step }) => step)).toEqual([0, 40, 80]);
    expect(evaluations[2].evaluations[0].feature_density_log10).toHaveLength(64);
    expect(evaluations[2].evaluations[0]['performance/recovery_from_zero']).toBe(last['performance/recovery_from_zero']);
  });

  it("evaluates a group on the same batches and suffixes each member's names with _{index}", async () => {
    const logger = recordingLogger();
    const requestedSteps: number[] = [];
    const onEvaluate = createPerformanceEvaluator({
      model,
      backend,
      logger,
      // Drawn afresh for every evaluation, as the reference's get_batch_tokens() does.
      tokenBatches: (step) => {
        requestedSteps.push(step);
        return tokenBatches(1, 8, 16, 100 + step);
      },
    });
    await trainDecompositionGroup([makeSae(1), makeSae(2)], await harvestedSource(model, HOOK, trainingBatches, 64), [trainConfig, { ...trainConfig, lr: 1e-3 }], {
      backend,
      onEvaluate,
      handleSignals: false,
    });
    await onEvaluate.dispose();
    expect(requestedSteps).toEqual([0, 40, 80]);
    const names = Object.keys(logger.rows[0].metrics);
    expect(names).toEqual([...PERFORMANCE_METRIC_NAMES.map((name) => `${name}_0`), ...PERFORMANCE_METRIC_NAMES.map((name) => `${name}_1`)]);
    const { metrics } = logger.rows.at(-1)!;
    // Both members see the same model, batches and ablations; only their reconstructions differ.
    expect(metrics['performance/original_loss_0']).toBe(metrics['performance/original_loss_1']);
    expect(metrics['performance/mean_ablation_loss_0']).toBe(metrics['performance/mean_ablation_loss_1']);
    expect(metrics['performance/reconstructed_loss_0']).not.toBe(metrics['performance/reconstructed_loss_1']);
  });

  it("suffixes a single SAE's names when told it is a group of one", async () => {
    const logger = recordingLogger();
    const onEvaluate = createPerformanceEvaluator({ model, backend, tokenBatches: heldOut, logger, grouped: true });
    const sae = makeSae(1);
    await onEvaluate(0, [{ index: 0, decomposition: sae, params: sae.initialParams(), state: sae.initialState() }]);
    await onEvaluate.dispose();
    expect(Object.keys(logger.rows[0].metrics)).toEqual(PERFORMANCE_METRIC_NAMES.map((name) => `${name}_0`));
  });
});
