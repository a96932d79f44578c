import { hostTensor, Rng, type HostTensor, type Tensor } from '@nnd/core';
import { createOnnxBackend } from '@nnd/backend-onnx';
import { afterAll, describe, expect, it } from 'vitest';
import { createSae } from './sae-registry.js';
import { buildForward, evaluateNamed, forwardFeeds, gradientOutputs, maxRelativeError, randomTensor, values, type BuiltForward } from './test-support.js';

const ACT_SIZE = 6;
const DICT_SIZE = 16;
const BATCH = 5;

/** One Adam step (PyTorch's, no weight decay) on host arrays: the update the trainer applies after constrain. */
function adamStep(param: number[], gradient: number[], lr = 1e-2, beta1 = 0.9, beta2 = 0.99, epsilon = 1e-8): number[] {
  // First step from zero moments: m = (1 - b1) g, v = (1 - b2) g^2, bias-corrected to g and g^2.
  return param.map((value, i) => {
    const m = ((1 - beta1) * gradient[i]) / (1 - beta1);
    const v = ((1 - beta2) * gradient[i] ** 2) / (1 - beta2);
    return value - (lr * m) / (Math.sqrt(v) + epsilon);
  });
}

function problem(seed: number, dead: boolean) {
  const rng = new Rng(seed);
  const x = randomTensor(rng, [BATCH, ACT_SIZE], 'float64', 1, 0.3);
  const counter = new Float32Array(DICT_SIZE);
  // Features 0..9 long inactive: dead unless they fire in this batch.
  if (dead) for (let feature = 0; feature < 10; feature++) counter[feature] = 4 + (feature % 3);
  const perturb = (tensor: HostTensor) =>
    hostTensor(
      'float32',
      tensor.shape,
      (tensor.data as Float32Array).map((value) => value + 0.05 * rng.normal(1)[0]),
    );
  return { rng, x, counter: hostTensor('float32', [DICT_SIZE], counter), perturb };
}

/** Everything a training step reads: losses, metrics, next state, outputs, gradients, constrained params and gradients. */
function stepOutputs(built: BuiltForward, constrain: boolean, sae: ReturnType<typeof createSae>): Record<string, Tensor> {
  const gradients = gradientOutputs(built);
  const outputs: Record<string, Tensor> = {
    reconstruction: built.output.reconstruction,
    featureActs: built.output.featureActs,
    ...Object.fromEntries(Object.entries(built.output.losses).map(([name, tensor]) => [`loss.${name}`, tensor])),
    ...Object.fromEntries(Object.entries(built.output.metrics).map(([name, tensor]) => [`metric.${name}`, tensor])),
    ...Object.fromEntries(Object.entries(built.output.nextState).map(([name, tensor]) => [`state.${name}`, tensor])),
    ...gradients,
  };
  if (constrain) {
    const gradientMap = Object.fromEntries(Object.keys(built.params).map((name) => [name, gradients[`grad.${name}`]]));
    const constrained = sae.constrain(built.graph, built.params, gradientMap);
    outputs['constrained.W_dec'] = constrained.params.W_dec;
    outputs['constrained.grad.W_dec'] = constrained.gradients.W_dec;
  }
  return outputs;
}

const CASES = [
  { architecture: 'topk', auxPenalty: 1 / 32, dead: true, inputUnitNorm: false },
  { architecture: 'topk', auxPenalty: 1 / 32, dead: false, inputUnitNorm: true },
  { architecture: 'topk', auxPenalty: 0, dead: true, inputUnitNorm: false },
  { architecture: 'batchtopk', auxPenalty: 1 / 32, dead: true, inputUnitNorm: false },
  { architecture: 'batchtopk', auxPenalty: 0, dead: false, inputUnitNorm: true },
  { architecture: 'batchtopk', auxPenalty: 0, dead: true, inputUnitNorm: false },
] as const;

describe('sparse decoder fast path equals the dense path', () => {
  it.each(CASES)('$architecture, aux_penalty $auxPenalty, dead features $dead, input_unit_norm $inputUnitNorm', ({ architecture, auxPenalty, dead, inputUnitNorm }) => {
    const base = {
      architecture,
      act_size: ACT_SIZE,
      dict_size: DICT_SIZE,
      top_k: 3,
      top_k_aux: 4,
      aux_penalty: auxPenalty,
      l1_coeff: 0.01,
      input_unit_norm: inputUnitNorm,
    };
    const dense = createSae({ ...base, sparse_decoder: false });
    const sparse = createSae({ ...base, sparse_decoder: true });
    const { x, counter, perturb } = problem(architecture.length + auxPenalty * 64 + Number(dead), dead);
    // Perturbed biases so that no gradient is trivially zero.
    const initial = dense.initialParams();
    const params: Record<string, HostTensor> = { ...initial, b_dec: perturb(initial.b_dec) };
    const state = { ...dense.initialState(), num_batches_not_active: counter };
    const feeds = forwardFeeds(x, params, state);

    const denseBuilt = buildForward(dense, 'batch');
    const sparseBuilt = buildForward(sparse, 'batch');
    const expected = evaluateNamed(denseBuilt.graph, stepOutputs(denseBuilt, true, dense), feeds);
    const actual = evaluateNamed(sparseBuilt.graph, stepOutputs(sparseBuilt, true, sparse), feeds);
    expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
    for (const name of Object.keys(expected)) {
      expect(maxRelativeError(actual[name], expected[name]), name).toBeLessThan(1e-5);
    }
    if (dead && auxPenalty > 0) expect(values(expected['loss.aux_loss'])[0]).toBeGreaterThan(0);
    expect(maxRelativeError(actual['grad.W_enc'], expected['grad.W_enc'])).toBeLessThan(1e-12);
    expect(Math.max(...values(expected['grad.W_enc']).map(Math.abs))).toBeGreaterThan(0);

    // One Adam step on the constrained gradients gives the same parameters.
    for (const name of ['W_enc', 'b_dec']) {
      const updatedDense = adamStep(values(params[name]), values(expected[`grad.${name}`]));
      const updatedSparse = adamStep(values(params[name]), values(actual[`grad.${name}`]));
      expect(maxRelativeError(updatedSparse, updatedDense), name).toBeLessThan(1e-5);
    }
    const decoderDense = adamStep(values(expected['constrained.W_dec']), values(expected['constrained.grad.W_dec']));
    const decoderSparse = adamStep(values(actual['constrained.W_dec']), values(actual['constrained.grad.W_dec']));
    expect(maxRelativeError(decoderSparse, decoderDense)).toBeLessThan(1e-5);
  });
});

/** MatMuls whose work (output size times the contracted size) scales with batch * dict_size. */
function denseSizedMatMuls(built: BuiltForward): number {
  const gradients = Object.values(gradientOutputs(built));
  return built.graph.ancestors([built.loss, ...gradients]).filter((node) => {
    if (node.op !== 'MatMul') return false;
    const dims = [...node.outputs[0].shape, node.inputs[0].shape[node.inputs[0].rank - 1]];
    return dims.includes('batch') && dims.includes(DICT_SIZE);
  }).length;
}

describe('cost of a training step (loss and gradients)', () => {
  it.each([
    // Encoder forward, decoder forward, d acts, d W_dec, d W_enc.
    [false, 0, 5],
    // Encoder forward only: decoder and both weight gradients are gathers and scatters.
    [true, 0, 1],
    // Dense: the above plus the auxiliary decoder, its d acts and its d W_dec.
    [false, 1 / 32, 8],
    // Sparse main decoder; the auxiliary loss needs the dense encoder gradient anyway, so one MatMul serves both.
    [true, 1 / 32, 5],
  ])('sparse_decoder %s, aux_penalty %s: %i batch x dict_size MatMuls', (sparseDecoder, auxPenalty, expected) => {
    for (const architecture of ['topk', 'batchtopk'] as const) {
      const sae = createSae({ architecture, act_size: ACT_SIZE, dict_size: DICT_SIZE, top_k: 3, aux_penalty: auxPenalty, sparse_decoder: sparseDecoder });
      expect(denseSizedMatMuls(buildForward(sae, 'batch')), architecture).toBe(expected);
    }
  });
});

describe('sparse decoder fast path on onnxruntime (CPU, float32)', () => {
  const backend = createOnnxBackend({ device: 'cpu' });
  afterAll(() => backend.dispose());

  it.each(['topk', 'batchtopk'] as const)('%s: dense and sparse programs agree with each other and with the float64 reference', async (architecture) => {
    const base = { architecture, act_size: ACT_SIZE, dict_size: DICT_SIZE, top_k: 3, top_k_aux: 4, l1_coeff: 0.01 };
    const { x, counter } = problem(7, true);
    const reference = createSae({ ...base, sparse_decoder: false });
    const params = reference.initialParams();
    const state = { ...reference.initialState(), num_batches_not_active: counter };
    const referenceBuilt = buildForward(reference, 'batch');
    const expected = evaluateNamed(referenceBuilt.graph, stepOutputs(referenceBuilt, false, reference), forwardFeeds(x, params, state));
    for (const sparseDecoder of [false, true]) {
      const sae = createSae({ ...base, sparse_decoder: sparseDecoder });
      const built = buildForward(sae, 'batch', 'float32');
      const outputs = stepOutputs(built, false, sae);
      const program = await backend.compile(built.graph, { outputs });
      const result = await program.run(forwardFeeds(x, params, state, 'float32'));
      for (const name of Object.keys(outputs)) {
        const host = await result[name].toHost();
        expect(maxRelativeError(values(host), values(expected[name])), `${name} (sparse ${sparseDecoder})`).toBeLessThan(1e-5);
      }
      await program.dispose();
    }
  });
});

describe('encoder_bias (SAELens TopK): the sparse encoder gradient carries b_enc', () => {
  it.each(['topk', 'batchtopk'] as const)('%s without the auxiliary loss: sparse and dense gradients agree, d b_enc included', (architecture) => {
    const base = { architecture, act_size: ACT_SIZE, dict_size: DICT_SIZE, top_k: 3, aux_penalty: 0, l1_coeff: 0.01, encoder_bias: true };
    const dense = createSae({ ...base, sparse_decoder: false });
    const sparse = createSae({ ...base, sparse_decoder: true });
    const { x, counter, perturb } = problem(11, false);
    const initial = dense.initialParams();
    const params: Record<string, HostTensor> = { ...initial, b_dec: perturb(initial.b_dec), b_enc: perturb(initial.b_enc) };
    const feeds = forwardFeeds(x, params, { ...dense.initialState(), num_batches_not_active: counter });
    const denseBuilt = buildForward(dense, 'batch');
    const sparseBuilt = buildForward(sparse, 'batch');
    const expected = evaluateNamed(denseBuilt.graph, stepOutputs(denseBuilt, false, dense), feeds);
    const actual = evaluateNamed(sparseBuilt.graph, stepOutputs(sparseBuilt, false, sparse), feeds);
    for (const name of Object.keys(expected)) expect(maxRelativeError(actual[name], expected[name]), name).toBeLessThan(1e-5);
    expect(Math.max(...values(expected['grad.b_enc']).map(Math.abs))).toBeGreaterThan(0);
    // Without encoder_bias the same parameters give other activations: b_enc is really used.
    const plain = buildForward(createSae({ ...base, encoder_bias: false }), 'batch');
    const withoutBias = evaluateNamed(plain.graph, { featureActs: plain.output.featureActs }, feeds);
    expect(maxRelativeError(withoutBias.featureActs, expected.featureActs)).toBeGreaterThan(1e-3);
  });
});
