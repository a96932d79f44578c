import { createOnnxBackend } from '@nnd/backend-onnx';
import { createClt } from '@nnd/clt';
import { hostTensor, Rng, type Decomposition, type HostTensor } from '@nnd/core';
import { collectDashboard, dashboardGraph } from '@nnd/dashboard';
import { HookedTransformer, initializeParameters } from '@nnd/models';
import { createMolt, parseMoltConfig } from '@nnd/molt';
import { createSae } from '@nnd/sae';
import { createTranscoder } from '@nnd/transcoders';
import { SMALL_GPT2_CONFIG as CONFIG } from './language-model.test-support.js';
import { afterAll, describe, expect, it } from 'vitest';

// Lives in the CLI's tests because the CLI depends on every decomposition family; @nnd/dashboard depends on none.

const backend = createOnnxBackend();
const model = new HookedTransformer(CONFIG, initializeParameters(CONFIG, 3), { backend });
afterAll(async () => {
  await model.dispose();
  await backend.dispose();
});

const rng = new Rng(9);
const batches = Array.from({ length: 6 }, () =>
  hostTensor(
    'int64',
    [4, 24],
    BigInt64Array.from({ length: 96 }, () => BigInt(rng.int(CONFIG.vocabSize))),
  ),
);
const D = CONFIG.hiddenSize;

/**
 * Each family's members with (true) and without (false) kept features, with encoder biases that make most features fire;
 * those without have their non-zero values' pairs selected on the device by the dashboard (see @nnd/dashboard's nonZeroPairs).
 */
const members: [string, boolean, () => Decomposition][] = [
  ['TopK SAE', true, () => createSae({ architecture: 'topk', act_size: D, dict_size: 48, top_k: 5, hook_point: 'blocks.1.hook_resid_pre' })],
  [
    'BatchTopK SAE (running threshold: pairs selected from the dense values)',
    false,
    () => createSae({ architecture: 'batchtopk', act_size: D, dict_size: 48, top_k: 5, hook_point: 'blocks.1.hook_resid_pre' }),
  ],
  ['JumpReLU SAE (pairs selected from the dense values)', false, () => createSae({ architecture: 'jumprelu', act_size: D, dict_size: 48, hook_point: 'blocks.1.hook_resid_pre' })],
  [
    'TopK transcoder',
    true,
    () =>
      createTranscoder({
        architecture: 'topk_transcoder',
        input_size: D,
        output_size: D,
        dict_size: 40,
        top_k: 4,
        hook_point: 'blocks.1.ln2.hook_normalized',
        hook_point_out: 'blocks.1.hook_mlp_out',
      }),
  ],
  ['TopK CLT', true, () => createClt({ encoder_type: 'topk', layers: [0, 1], dict_size: 24, input_size: D, output_size: D, top_k: 3 })],
  [
    'TopK MOLT',
    true,
    () => createMolt(parseMoltConfig({ d_in: D, d_out: D, rank_counts: { 2: 6, 1: 12 }, top_k: 4, hook_point: 'blocks.1.ln2.hook_normalized', hook_point_out: 'blocks.1.hook_mlp_out' })),
  ],
];

function trained(decomposition: Decomposition): { params: Record<string, HostTensor>; state: Record<string, HostTensor> } {
  const params = decomposition.initialParams(new Rng(4));
  // Random encoder biases, so that features differ in how often they fire (untrained ones barely do).
  for (const [name, tensor] of Object.entries(params)) {
    if (/^b_enc|^b_E$/.test(name))
      params[name] = hostTensor(
        'float32',
        tensor.shape,
        Float32Array.from(tensor.data as Float32Array, () => rng.next() * 0.6 - 0.2),
      );
    if (/^log_threshold/.test(name)) params[name] = hostTensor('float32', tensor.shape, new Float32Array(tensor.data.length).fill(Math.log(0.05)));
  }
  return { params, state: decomposition.initialState() };
}

describe('collectDashboard from kept features', () => {
  for (const [name, kept, create] of members) {
    it(`${name}: ${kept ? 'reads the kept (index, value) pairs and' : 'selects the non-zero pairs of its dense featureActs on the device and'} gives exactly the dense path's dashboard`, async () => {
      const decomposition = create();
      const { params, state } = trained(decomposition);
      const { graph, featureCount } = dashboardGraph(model, decomposition, params, state, undefined, { sparse: true });
      expect(graph.kept !== undefined).toBe(kept);
      const features = { start: 3, end: Math.min(featureCount, 19) };
      const options = { model, decomposition, params, state, batches, features, window: 3, topExamples: 6, quantileExamples: 4, excludedTokenId: 0, logitTokens: 0 };
      const sparse = await collectDashboard({ ...options, sparse: true });
      const dense = await collectDashboard({ ...options, sparse: false });
      expect(dense.features.filter(({ firings }) => firings > 0).length).toBeGreaterThan(8);
      expect(dense.features.some(({ top }) => top.length === 6)).toBe(true);
      expect(sparse).toEqual(dense);
    });
  }
});
