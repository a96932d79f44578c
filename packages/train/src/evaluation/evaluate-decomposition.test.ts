import { createOnnxBackend } from '@nnd/backend-onnx';
import { ConfigError, expand, hostTensor, NndError, reduceMean, reshape, ShapeError, zeros, type Backend, type Graph, type HostTensor, type Program, type Tensor } from '@nnd/core';
import { hookShape, type HookedTransformer } from '@nnd/models';
import { createSae } from '@nnd/sae';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainDecomposition } from '../train-decomposition.js';
import { evaluateDecomposition } from './evaluate-decomposition.js';
import { DecompositionEvaluator } from './decomposition-evaluator.js';
import { BOS_TOKEN_ID, harvestedSource, identityDecomposition, TINY_CONFIG, tokenBatches, trainedTinyModel, zeroDecomposition } from './tiny-model.test-support.js';

const HOOK = 'blocks.1.hook_resid_pre';
const WIDTH = TINY_CONFIG.hiddenSize;
/** Values per position of a hook of the tiny model. */
const hookWidth = (hook: string) =>
  hookShape(hook, TINY_CONFIG, 1, 1)
    .slice(2)
    .reduce((product: number, dim) => product * Number(dim), 1);

/** The ONNX backend, counting compiled programs and runs. */
function countingBackend(inner: Backend): { backend: Backend; counts: { compiles: number; runs: number } } {
  const counts = { compiles: 0, runs: 0 };
  const backend: Backend = {
    specificationVersion: inner.specificationVersion,
    name: inner.name,
    capabilities: inner.capabilities,
    async compile(graph, options) {
      counts.compiles++;
      const program = await inner.compile(graph, options);
      const counted: Program = {
        inputNames: program.inputNames,
        outputNames: program.outputNames,
        run: (feeds) => {
          counts.runs++;
          return program.run(feeds);
        },
        dispose: () => program.dispose(),
      };
      return counted;
    },
    upload: (tensor) => inner.upload(tensor),
    dispose: () => inner.dispose(),
  };
  return { backend, counts };
}

const { backend, counts } = countingBackend(createOnnxBackend());
let model: HookedTransformer;
// Held out: another seed of the corpus than the model and the SAE were trained on.
const heldOut = tokenBatches(3, 8, 16, 11);
let trainedSae: { sae: ReturnType<typeof createSae>; params: Record<string, HostTensor>; state: Record<string, HostTensor> };

beforeAll(async () => {
  model = await trainedTinyModel(backend);
  const sae = createSae({ architecture: 'topk', act_size: WIDTH, dict_size: 128, top_k: 4, seed: 3, hook_point: HOOK });
  const source = await harvestedSource(model, HOOK, tokenBatches(8, 8, 16, 5), 64);
  const trained = await trainDecomposition(sae, source, { num_tokens: 64 * 300, batch_size: 64, lr: 3e-3, log_freq: 1000 }, { backend, handleSignals: false });
  trainedSae = { sae, params: trained.params, state: trained.state };
});
afterAll(async () => {
  await model?.dispose();
  await backend.dispose();
});

const evaluate = (decomposition: Parameters<typeof evaluateDecomposition>[0]['decomposition'], extra: Partial<Parameters<typeof evaluateDecomposition>[0]> = {}) =>
  evaluateDecomposition({ model, decomposition, params: {}, state: {}, tokenBatches: heldOut, backend, ...extra });

/** Each held-out batch's loss through the model's own programs, averaged (the batches are the same size). */
async function modelLoss(replace?: (graph: Graph, value: Tensor) => Tensor): Promise<number> {
  let total = 0;
  for (const tokens of heldOut) total += await model.loss(tokens, replace ? { replace: { [HOOK]: replace } } : {});
  return total / heldOut.length;
}

describe('evaluateDecomposition on a tiny trained GPT-2', () => {
  it('splicing the exact activations back costs nothing: ce_degradation 0, recoveries 1, explained variance 1', async () => {
    const result = await evaluate(identityDecomposition(WIDTH, HOOK));
    console.log(
      `[evaluation] original ${result['performance/original_loss'].toFixed(4)}, zero-ablated ${result['performance/zero_ablation_loss'].toFixed(4)}, mean-ablated ${result['performance/mean_ablation_loss'].toFixed(4)} nats`,
    );
    // The model learned something the hook carries, so the recoveries have a real denominator.
    expect(result['performance/zero_ablation_loss'] - result['performance/original_loss']).toBeGreaterThan(0.5);
    expect(result['performance/mean_ablation_loss'] - result['performance/original_loss']).toBeGreaterThan(0.5);
    expect(Math.abs(result['performance/ce_degradation'])).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(result['performance/recovery_from_zero'] - 1)).toBeLessThanOrEqual(1e-4);
    expect(Math.abs(result['performance/recovery_from_mean'] - 1)).toBeLessThanOrEqual(1e-4);
    expect(result.explained_variance).toBeCloseTo(1, 6);
    expect(result.normalized_mse).toBeCloseTo(0, 6);
    expect(result.evaluated_tokens).toBe(3 * 8 * 16);
    expect(result.evaluated_batches).toBe(3);
  });

  it('splicing zeros as the "reconstruction" is zero-ablation: recovery_from_zero 0, normalised MSE 1', async () => {
    const result = await evaluate(zeroDecomposition(WIDTH, HOOK));
    expect(Math.abs(result['performance/recovery_from_zero'])).toBeLessThanOrEqual(1e-4);
    expect(result['performance/reconstructed_loss']).toBeCloseTo(result['performance/zero_ablation_loss'], 5);
    expect(result['performance/ce_degradation']).toBeCloseTo(result['performance/original_loss'] - result['performance/zero_ablation_loss'], 5);
    expect(result.normalized_mse).toBeCloseTo(1, 6);
    expect(result.explained_variance).toBeLessThan(0);
  });

  it("the four losses equal the model's own runs with the same replacements", async () => {
    const { sae, params, state } = trainedSae;
    const result = await evaluate(sae, { params, state });
    const constants = (graph: Graph, tensors: Record<string, HostTensor>) => Object.fromEntries(Object.entries(tensors).map(([name, tensor]) => [name, graph.constant(tensor)]));
    expect(result['performance/original_loss']).toBeCloseTo(await modelLoss(), 5);
    expect(result['performance/zero_ablation_loss']).toBeCloseTo(await modelLoss((graph, value) => zeros(graph, value.shape, value.dtype)), 5);
    expect(result['performance/mean_ablation_loss']).toBeCloseTo(await modelLoss((_graph, value) => expand(reduceMean(value, [0, 1], true), value.shape)), 5);
    const spliced = await modelLoss((graph, value) => reshape(sae.infer(graph, reshape(value, [-1, WIDTH]), constants(graph, params), constants(graph, state)).reconstruction, value.shape));
    expect(result['performance/reconstructed_loss']).toBeCloseTo(spliced, 5);
  });

  it('a trained TopK SAE gives metrics in sane ranges, better than the same SAE untrained', async () => {
    const { sae, params, state } = trainedSae;
    const trained = await evaluate(sae, { params, state });
    const untrained = await evaluate(sae, { params: sae.initialParams(), state: sae.initialState() });
    console.log(`[evaluation] trained TopK SAE: ${JSON.stringify({ ...trained, feature_density_log10: `[${trained.feature_density_log10.length} entries]` })}`);
    expect(trained.explained_variance).toBeGreaterThan(0.5);
    expect(trained.explained_variance).toBeLessThanOrEqual(1);
    expect(trained.normalized_mse).toBeGreaterThanOrEqual(0);
    expect(trained.normalized_mse).toBeLessThan(0.5);
    expect(trained['performance/recovery_from_zero']).toBeGreaterThan(0.5);
    expect(trained['performance/recovery_from_zero']).toBeLessThan(1.1);
    expect(trained['performance/recovery_from_mean']).toBeGreaterThan(0);
    expect(trained['performance/ce_degradation']).toBeLessThan(0.5);
    expect(trained['performance/recovery_from_zero']).toBeGreaterThan(untrained['performance/recovery_from_zero']);
    expect(trained.explained_variance).toBeGreaterThan(untrained.explained_variance);
    // TopK keeps at most k = 4 per position (fewer where pre-activations are 0).
    expect(trained.l0_norm).toBeGreaterThan(1);
    expect(trained.l0_norm).toBeLessThanOrEqual(4);
    expect(trained.feature_density_log10).toHaveLength(128);
    const neverFired = trained.feature_density_log10.filter((entry) => entry === null).length;
    expect(trained.dead_fraction).toBe(neverFired / 128);
    expect(trained.dense_fraction).toBe(trained.feature_density_log10.filter((entry) => entry !== null && entry > -1).length / 128);
    for (const entry of trained.feature_density_log10) if (entry !== null) expect(entry).toBeLessThanOrEqual(0);
    // L0 is the densities summed: each position's active features, counted once per feature.
    const densitySum = trained.feature_density_log10.reduce<number>((total, entry) => total + (entry === null ? 0 : 10 ** entry), 0);
    expect(densitySum).toBeCloseTo(trained.l0_norm, 4);
  });

  it("TopK's per-sample inference reconstructs as its forward pass, so both modes agree", async () => {
    const { sae, params, state } = trainedSae;
    const forward = await evaluate(sae, { params, state });
    const inferred = await evaluate(sae, { params, state, reconstruction: 'infer' });
    expect(inferred['performance/reconstructed_loss']).toBeCloseTo(forward['performance/reconstructed_loss'], 5);
    expect(inferred.explained_variance).toBeCloseTo(forward.explained_variance, 5);
    expect(inferred.feature_density_log10).toEqual(forward.feature_density_log10);
  });

  it.each([false, true])('activation metrics and densities match a host computation (excludeBos %s); losses ignore excludeBos', async (excludeBos) => {
    // Host float64 reference: every position, or all but BOS.
    let count = 0;
    let squareSum = 0;
    const sum = new Float64Array(WIDTH);
    const firing = new Float64Array(WIDTH);
    const rows: Float32Array[] = [];
    for (const tokens of heldOut) {
      const values = (await model.runWithCache(tokens, { names: [HOOK] })).cache[HOOK].data as Float32Array;
      for (let position = 0; position < tokens.data.length; position++) {
        if (excludeBos && Number(tokens.data[position]) === BOS_TOKEN_ID) continue;
        const row = values.subarray(position * WIDTH, (position + 1) * WIDTH);
        rows.push(row);
        count++;
        row.forEach((value, column) => {
          sum[column] += value;
          squareSum += value * value;
          if (value > 0) firing[column]++;
        });
      }
    }
    let centeredSquareSum = 0;
    for (const row of rows) row.forEach((value, column) => (centeredSquareSum += (value - sum[column] / count) ** 2));

    const zero = await evaluate(zeroDecomposition(WIDTH, HOOK), { excludeBos });
    const identity = await evaluate(identityDecomposition(WIDTH, HOOK), { excludeBos });
    expect(zero.evaluated_tokens).toBe(count);
    expect(count).toBe(excludeBos ? 3 * 8 * 15 : 3 * 8 * 16);
    // Reconstructing zeros: Σ‖x − x̂‖² = Σ‖x‖².
    expect(zero.explained_variance).toBeCloseTo(1 - squareSum / centeredSquareSum, 4);
    // The identity's feature activations are x itself: feature j fires where x_j > 0.
    expect(identity.feature_density_log10).toEqual(Array.from(firing, (fired) => (fired === 0 ? null : Math.log10(fired / count))));
    expect(identity.l0_norm).toBeCloseTo(firing.reduce((total, fired) => total + fired, 0) / count, 10);
    const everyPosition = await evaluate(zeroDecomposition(WIDTH, HOOK));
    expect(zero['performance/original_loss']).toBe(everyPosition['performance/original_loss']);
    expect(zero['performance/mean_ablation_loss']).toBe(everyPosition['performance/mean_ablation_loss']);
  });

  it('runs one compiled program per batch, compiled once for every batch shape and every later evaluation', async () => {
    const evaluator = new DecompositionEvaluator({ model, backend });
    const { sae, params, state } = trainedSae;
    const shapes = [...tokenBatches(1, 8, 16, 21), ...tokenBatches(1, 4, 12, 22), ...tokenBatches(1, 2, 32, 23)];
    counts.compiles = 0;
    counts.runs = 0;
    await evaluator.evaluate([{ decomposition: sae, params, state }], shapes);
    expect(counts).toEqual({ compiles: 1, runs: 3 });

    // Timing on a warm program: batches of 8 x 16 tokens.
    const timed = tokenBatches(10, 8, 16, 24);
    const start = performance.now();
    await evaluator.evaluate([{ decomposition: sae, params, state }], timed);
    const perBatch = (performance.now() - start) / timed.length;
    console.log(`[evaluation] ${perBatch.toFixed(1)} ms per 8x16-token batch (all four losses and the metrics, one program run each)`);
    expect(counts).toEqual({ compiles: 1, runs: 13 });
    await evaluator.dispose();
  });

  it.each(['hook_embed', 'blocks.0.attn.hook_z', 'blocks.0.mlp.hook_post', 'ln_final.hook_normalized'])('splices at %s too (hooks of any per-position width)', async (hookPoint) => {
    const result = await evaluate(identityDecomposition(hookWidth(hookPoint), hookPoint));
    expect(Math.abs(result['performance/ce_degradation'])).toBeLessThanOrEqual(1e-5);
    expect(result.explained_variance).toBeCloseTo(1, 6);
    expect(result['performance/zero_ablation_loss']).not.toBe(result['performance/original_loss']);
  });

  it('reads the batches from an async iterable too', async () => {
    async function* batches() {
      yield* heldOut;
    }
    const fromArray = await evaluate(identityDecomposition(WIDTH, HOOK));
    const fromGenerator = await evaluate(identityDecomposition(WIDTH, HOOK), { tokenBatches: batches() });
    expect(fromGenerator).toEqual(fromArray);
  });

  it('rejects what it cannot evaluate with NndErrors that say what to change', async () => {
    await expect(evaluate(identityDecomposition(WIDTH, HOOK), { tokenBatches: [] })).rejects.toThrow(/yielded no batches/);
    await expect(evaluate(identityDecomposition(WIDTH, HOOK), { backend: createOnnxBackend() })).rejects.toThrow(ConfigError);
    await expect(evaluate(identityDecomposition(WIDTH, 'blocks.1.attn.hook_pattern'))).rejects.toThrow(/not one vector per position/);
    await expect(evaluate(identityDecomposition(WIDTH, 'blocks.1.hook_resid_prex'))).rejects.toThrow(NndError);
    await expect(evaluate(identityDecomposition(WIDTH, HOOK), { reconstruction: 'infer' })).rejects.toThrow(/has none; use reconstruction 'forward'/);
    await expect(evaluate(identityDecomposition(WIDTH, HOOK), { tokenBatches: [hostTensor('int64', [2, 1], [0n, 1n])] })).rejects.toThrow(ShapeError);
    await expect(evaluate(identityDecomposition(WIDTH, HOOK), { tokenBatches: [[[0, 99]]] })).rejects.toThrow(/outside the vocabulary/);
    const allBos = [hostTensor('int64', [2, 2], [0n, 0n, 0n, 0n])];
    await expect(evaluate(identityDecomposition(WIDTH, HOOK), { tokenBatches: allBos, excludeBos: true })).rejects.toThrow(/left nothing to measure/);
    const wrongWidth = createSae({ architecture: 'topk', act_size: 16, dict_size: 32, top_k: 4, hook_point: HOOK });
    await expect(evaluate(wrongWidth, { params: wrongWidth.initialParams(), state: wrongWidth.initialState() })).rejects.toThrow(ShapeError);
  });
});
