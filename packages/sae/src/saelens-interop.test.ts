import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { add, fromTypedArray, Graph, grad, hostTensor, readSafetensors, Rng, toTypedArray, writeSafetensors, type HostTensor, type SafetensorsTensor, type Tensor } from '@nnd/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSae, saveSae, type LoadedSae } from './sae-files.js';
import { createSae } from './sae-registry.js';
import { saeLensForward, type SaeLensTensor } from './saelens-reference.test-support.js';
import { evaluateNamed, maxRelativeError, randomTensor, values } from './test-support.js';

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-saelens-'));
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

const D_IN = 6;
const D_SAE = 12;
const BATCH = 5;
const METADATA = {
  sae_lens_version: '6.18.0',
  sae_lens_training_version: '6.18.0',
  model_name: 'gpt2',
  hook_name: 'blocks.3.hook_resid_pre',
  hook_head_index: null,
  context_size: 128,
  prepend_bos: true,
};

/** SAELens's SAEConfig fields (`SAEConfig.to_dict`), which every file has. */
function baseConfig(architecture: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    d_in: D_IN,
    d_sae: D_SAE,
    dtype: 'float32',
    device: 'cpu',
    apply_b_dec_to_input: true,
    normalize_activations: 'none',
    reshape_activations: 'none',
    metadata: METADATA,
    architecture,
    ...extra,
  };
}

/** Weights as float32 (what the file stores), with decoder rows of varied norms and a non-zero b_enc, as after training. */
function trainedWeights(seed: number): Record<string, SaeLensTensor> {
  const rng = new Rng(seed);
  const draw = (shape: number[], scale: number) => ({ shape, data: Float32Array.from(values(randomTensor(rng, shape, 'float32', scale))) });
  const wDec = draw([D_SAE, D_IN], 0.5);
  const rowScales = Array.from({ length: D_SAE }, (_, f) => 0.3 + 0.2 * f);
  return {
    W_enc: draw([D_IN, D_SAE], 0.5),
    W_dec: { shape: wDec.shape, data: wDec.data.map((value, i) => value * rowScales[Math.floor(i / D_IN)]) },
    b_enc: draw([D_SAE], 0.3),
    b_dec: draw([D_IN], 0.2),
  };
}

async function writeFolder(cfg: Record<string, unknown>, weights: Record<string, SaeLensTensor>, dtypes: Record<string, 'F32' | 'F64'> = {}): Promise<void> {
  await writeFile(join(directory, 'cfg.json'), JSON.stringify(cfg));
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const [name, tensor] of Object.entries(weights)) {
    const dtype = dtypes[name] ?? 'F32';
    tensors[name] = fromTypedArray(dtype, [...tensor.shape], dtype === 'F64' ? Float64Array.from(tensor.data) : Float32Array.from(tensor.data));
  }
  await writeSafetensors(join(directory, 'sae_weights.safetensors'), tensors);
}

async function readFolder(): Promise<{ cfg: Record<string, unknown>; weights: Record<string, SaeLensTensor> }> {
  const cfg = JSON.parse(await readFile(join(directory, 'cfg.json'), 'utf8')) as Record<string, unknown>;
  const tensors = readSafetensors(await readFile(join(directory, 'sae_weights.safetensors'))).tensors;
  const weights = Object.fromEntries([...tensors].map(([name, tensor]) => [name, { shape: tensor.shape, data: Array.from(toTypedArray(tensor) as Float32Array, Number) }]));
  return { cfg, weights };
}

function inputs(seed: number): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: BATCH }, () => values(randomTensor(rng, [D_IN], 'float64', 1, 0.2)));
}

function graphInputs(graph: Graph, tensors: Record<string, HostTensor>, prefix = ''): Record<string, Tensor> {
  return Object.fromEntries(
    Object.entries(tensors).map(([name, tensor]) => [name, graph.input(`${prefix}${name}`, tensor.shape, tensor.dtype === 'float32' && prefix === '' ? 'float64' : tensor.dtype)]),
  );
}

function feeds(xs: number[][], loaded: LoadedSae): Record<string, HostTensor> {
  const result: Record<string, HostTensor> = { x: hostTensor('float64', [xs.length, D_IN], Float64Array.from(xs.flat())) };
  for (const [name, tensor] of Object.entries(loaded.params)) result[name] = hostTensor('float64', tensor.shape, Float64Array.from(tensor.data as Float32Array));
  for (const [name, tensor] of Object.entries(loaded.state)) result[`state.${name}`] = tensor;
  return result;
}

/** nnd's inference (sample by sample) on a loaded SAE, in float64. */
function nndInfer(loaded: LoadedSae, xs: number[][]): { acts: number[]; reconstruction: number[] } {
  const graph = new Graph();
  const x = graph.input('x', [xs.length, D_IN], 'float64');
  const inference = loaded.sae.infer(graph, x, graphInputs(graph, loaded.params), graphInputs(graph, loaded.state, 'state.'));
  const out = evaluateNamed(graph, { acts: inference.featureActs, reconstruction: inference.reconstruction }, feeds(xs, loaded));
  return { acts: values(out.acts), reconstruction: values(out.reconstruction) };
}

/** nnd's training forward pass on a loaded SAE: its outputs and the gradient of the loss for every parameter. */
function nndTrainingStep(loaded: LoadedSae, xs: number[][]): { acts: number[]; reconstruction: number[]; gradients: Record<string, number[]> } {
  const graph = new Graph();
  const x = graph.input('x', [xs.length, D_IN], 'float64');
  const params = graphInputs(graph, loaded.params);
  const hook = loaded.sae.hook;
  const forward = loaded.sae.forward(graph, { inputs: { [hook]: x }, targets: { [hook]: x } }, params, graphInputs(graph, loaded.state, 'state.'));
  const output = { ...forward, reconstruction: forward.outputs[hook] };
  const loss = Object.values(output.losses).reduce((sum, term) => add(sum, term));
  const names = Object.keys(params);
  const gradients = grad(
    loss,
    names.map((name) => params[name]),
  );
  const out = evaluateNamed(
    graph,
    {
      acts: output.featureActs,
      reconstruction: output.reconstruction,
      ...Object.fromEntries(names.map((name, i) => [`grad.${name}`, gradients[i]])),
    },
    feeds(xs, loaded),
  );
  return {
    acts: values(out.acts),
    reconstruction: values(out.reconstruction),
    gradients: Object.fromEntries(names.map((name) => [name, values(out[`grad.${name}`])])),
  };
}

/**
 * What SAELens 6.18's `save_inference_model` writes for a BatchTopK
 * training SAE: TopK's decoder-norm fold (`_fold_norm_topk`), then
 * `threshold` = topk_threshold for every feature, saved as 'jumprelu'
 * with the fields of JumpReLUSAEConfig.
 */
function batchTopKInferenceFile(cfg: Record<string, unknown>, weights: Record<string, SaeLensTensor>, topkThreshold: number) {
  const wEnc = Array.from(weights.W_enc.data);
  const wDec = Array.from(weights.W_dec.data);
  const bEnc = Array.from(weights.b_enc.data);
  for (let f = 0; f < D_SAE; f++) {
    const norm = Math.fround(Math.sqrt(wDec.slice(f * D_IN, (f + 1) * D_IN).reduce((sum, value) => sum + value * value, 0)));
    bEnc[f] = Math.fround(bEnc[f] * norm);
    for (let i = 0; i < D_IN; i++) {
      wEnc[i * D_SAE + f] = Math.fround(wEnc[i * D_SAE + f] * norm);
      wDec[f * D_IN + i] = Math.fround(wDec[f * D_IN + i] / norm);
    }
  }
  const { k: _k, rescale_acts_by_decoder_norm: _r, topk_threshold_lr: _l, aux_loss_coefficient: _a, use_sparse_activations: _u, decoder_init_norm: _d, ...inference } = cfg;
  return {
    cfg: { ...inference, architecture: 'jumprelu' },
    weights: {
      W_enc: { shape: weights.W_enc.shape, data: wEnc },
      W_dec: { shape: weights.W_dec.shape, data: wDec },
      b_enc: { shape: [D_SAE], data: bEnc },
      b_dec: weights.b_dec,
      threshold: { shape: [D_SAE], data: new Array(D_SAE).fill(Math.fround(topkThreshold)) },
    },
  };
}

const TOPK_TRAINING = { decoder_init_norm: 0.1, k: 3, use_sparse_activations: false, aux_loss_coefficient: 1, rescale_acts_by_decoder_norm: true };
const JUMPRELU_TRAINING = {
  decoder_init_norm: 0.1,
  jumprelu_init_threshold: 0.01,
  jumprelu_bandwidth: 0.05,
  jumprelu_sparsity_loss_mode: 'step',
  l0_coefficient: 1,
  l0_warm_up_steps: 0,
  pre_act_loss_coefficient: null,
  jumprelu_tanh_scale: 4,
};
const THRESHOLDS = { shape: [D_SAE], data: Array.from({ length: D_SAE }, (_, f) => 0.05 + 0.04 * f) };

describe("folders SAELens 6.x writes load as decompositions with SAELens's outputs", () => {
  const variants: [string, Record<string, unknown>, Record<string, SaeLensTensor>, string, Record<string, unknown>][] = [
    ['TopK as SAELens trains it (save_model: rescale_acts_by_decoder_norm, b_enc)', baseConfig('topk', TOPK_TRAINING), trainedWeights(1), 'topk', { top_k: 3, encoder_bias: true }],
    ['TopK with b_enc, no rescale (save_inference_model)', baseConfig('topk', { k: 3, rescale_acts_by_decoder_norm: false }), trainedWeights(2), 'topk', { top_k: 3, encoder_bias: true }],
    [
      'TopK without b_dec on the input, layer_norm',
      baseConfig('topk', { k: 4, apply_b_dec_to_input: false, normalize_activations: 'layer_norm' }),
      trainedWeights(3),
      'topk',
      { top_k: 4, input_unit_norm: true },
    ],
    ['JumpReLU as SAELens trains it (save_model: apply_b_dec_to_input true)', baseConfig('jumprelu', JUMPRELU_TRAINING), { ...trainedWeights(4), threshold: THRESHOLDS }, 'jumprelu', {}],
    ['JumpReLU without b_dec on the input (Gemma Scope)', baseConfig('jumprelu', { apply_b_dec_to_input: false }), { ...trainedWeights(5), threshold: THRESHOLDS }, 'jumprelu', {}],
    ['standard without b_dec on the input', baseConfig('standard', { apply_b_dec_to_input: false }), trainedWeights(6), 'vanilla', {}],
    ['standard with layer_norm', baseConfig('standard', { normalize_activations: 'layer_norm' }), trainedWeights(7), 'vanilla', { input_unit_norm: true }],
  ];

  it.each(variants)('%s', async (_, cfg, weights, architecture, config) => {
    await writeFolder(cfg, weights);
    const loaded = await loadSae(directory);
    expect(loaded.sae.config).toMatchObject({ architecture, act_size: D_IN, dict_size: D_SAE, ...config });
    expect(loaded.metadata).toMatchObject({ model_name: 'gpt2', hook_name: 'blocks.3.hook_resid_pre', context_size: 128 });
    const xs = inputs(10);
    const expected = saeLensForward(cfg, weights, xs);
    expect(expected.acts.flat().filter((value) => value > 0).length).toBeGreaterThan(BATCH);
    const actual = nndInfer(loaded, xs);
    expect(maxRelativeError(actual.acts, expected.acts.flat())).toBeLessThan(1e-5);
    expect(maxRelativeError(actual.reconstruction, expected.reconstruction.flat())).toBeLessThan(1e-5);

    // Training goes on from there: the training forward pass computes the same, and every used parameter gets a gradient.
    const step = nndTrainingStep(loaded, xs);
    expect(maxRelativeError(step.reconstruction, expected.reconstruction.flat())).toBeLessThan(1e-5);
    for (const name of ['W_enc', 'W_dec', 'b_dec', 'b_enc']) expect(Math.max(...step.gradients[name].map(Math.abs)), name).toBeGreaterThan(0);
  });

  it('BatchTopK as SAELens saves it for inference (save_inference_model): a JumpReLU with one threshold', async () => {
    const training = baseConfig('batchtopk', { ...TOPK_TRAINING, k: 2, topk_threshold_lr: 0.01 });
    const file = batchTopKInferenceFile(training, trainedWeights(8), 0.4);
    await writeFolder(file.cfg, file.weights);
    const loaded = await loadSae(directory);
    expect(loaded.sae.config).toMatchObject({ architecture: 'jumprelu' });
    const xs = inputs(11);
    const expected = saeLensForward(file.cfg, file.weights, xs);
    const actual = nndInfer(loaded, xs);
    expect(maxRelativeError(actual.acts, expected.acts.flat())).toBeLessThan(1e-5);
    expect(maxRelativeError(actual.reconstruction, expected.reconstruction.flat())).toBeLessThan(1e-5);
  });

  it('BatchTopK as SAELens checkpoints it in training (save_model): batch-wide top k, and the threshold for inference', async () => {
    const cfg = baseConfig('batchtopk', { ...TOPK_TRAINING, k: 2, topk_threshold_lr: 0.01 });
    const weights = trainedWeights(9);
    await writeFolder(cfg, { ...weights, topk_threshold: { shape: [], data: [0.4] } }, { topk_threshold: 'F64' });
    const loaded = await loadSae(directory);
    expect(loaded.sae.config).toMatchObject({ architecture: 'batchtopk', top_k: 2, encoder_bias: true });
    expect(values(loaded.state.threshold)).toEqual([Math.fround(0.4)]);
    const xs = inputs(12);
    // SAELens's training SAE encodes a batch with BatchTopK; so does our training forward pass.
    const batch = saeLensForward(cfg, { ...weights, topk_threshold: { shape: [], data: [0.4] } }, xs);
    const step = nndTrainingStep(loaded, xs);
    expect(maxRelativeError(step.acts, batch.acts.flat())).toBeLessThan(1e-5);
    expect(maxRelativeError(step.reconstruction, batch.reconstruction.flat())).toBeLessThan(1e-5);
    // Sample by sample, ours uses the threshold, as the JumpReLU SAELens saves for inference does.
    const inference = batchTopKInferenceFile(cfg, weights, 0.4);
    const expected = saeLensForward(inference.cfg, inference.weights, xs);
    const actual = nndInfer(loaded, xs);
    expect(maxRelativeError(actual.acts, expected.acts.flat())).toBeLessThan(1e-5);
    expect(maxRelativeError(actual.reconstruction, expected.reconstruction.flat())).toBeLessThan(1e-5);
  });
});

describe("folders nnd writes load in SAELens 6.x with nnd's outputs", () => {
  const cases = [
    { architecture: 'vanilla', input_unit_norm: true },
    { architecture: 'topk', top_k: 3, encoder_bias: true },
    { architecture: 'topk', top_k: 3 },
    { architecture: 'batchtopk', top_k: 2 },
    { architecture: 'batchtopk', top_k: 2, encoder_bias: true, input_unit_norm: true },
    { architecture: 'jumprelu' },
  ] as const;

  it.each(cases)('%o', async (settings) => {
    const sae = createSae({ ...settings, act_size: D_IN, dict_size: D_SAE });
    const rng = new Rng(20);
    const params = sae.initialParams();
    params.b_dec = randomTensor(rng, [D_IN], 'float32', 0.2);
    params.b_enc = randomTensor(rng, [D_SAE], 'float32', 0.3);
    if (settings.architecture === 'jumprelu') params.log_threshold = hostTensor('float32', [D_SAE], THRESHOLDS.data.map(Math.log));
    const state = sae.initialState();
    if (settings.architecture === 'batchtopk') state.threshold = hostTensor('float32', [], [0.05]);
    await saveSae(directory, sae, params, state, { model_name: 'gpt2', hook_name: 'blocks.3.hook_resid_pre', context_size: 128 });

    const { cfg, weights } = await readFolder();
    // Without sae_lens_version >= 6 SAELens reads the file as pre-6.0 and drops the hook.
    expect(cfg.metadata).toMatchObject({ sae_lens_version: '6.18.0', model_name: 'gpt2', hook_name: 'blocks.3.hook_resid_pre', context_size: 128, hook_head_index: null });
    const xs = inputs(21);
    const expected = saeLensForward(cfg, weights, xs);
    const loaded = await loadSae(directory);
    expect(loaded.sae.config).toEqual(sae.config);
    const actual = nndInfer(loaded, xs);
    expect(actual.acts.filter((value) => value > 0).length).toBeGreaterThan(BATCH);
    expect(maxRelativeError(actual.acts, expected.acts.flat())).toBeLessThan(1e-5);
    expect(maxRelativeError(actual.reconstruction, expected.reconstruction.flat())).toBeLessThan(1e-5);
  });
});

describe('metadata of files from before SAELens 6.0', () => {
  it('gathers the top-level model and hook fields under their 6.x names, as SAELens does', async () => {
    await writeFolder(
      { d_in: D_IN, d_sae: D_SAE, hook_point: 'blocks.2.hook_resid_pre', hook_point_head_index: null, model_name: 'gpt2-small', context_size: 128, dataset_path: 'Skylion007/openwebtext', lr: 4e-4 },
      trainedWeights(30),
    );
    const { sae, metadata } = await loadSae(directory);
    expect(sae.config.architecture).toBe('vanilla');
    expect(metadata).toEqual({ hook_name: 'blocks.2.hook_resid_pre', hook_head_index: null, model_name: 'gpt2-small', context_size: 128, dataset_path: 'Skylion007/openwebtext' });
  });
});
