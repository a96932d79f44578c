import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, fromTypedArray, Graph, hostTensor, readSafetensors, Rng, toTypedArray, writeSafetensors, type HostTensor, type SafetensorsDType } from '@nnd/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SAE_ARCHITECTURES } from './sae-config.js';
import { SaeFileError } from './sae-file-error.js';
import { loadSae, saveSae } from './sae-files.js';
import { createSae } from './sae-registry.js';
import { evaluateNamed, forwardFeeds, maxRelativeError, randomTensor, values } from './test-support.js';

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-sae-'));
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

const float32 = (tensor: HostTensor) => Array.from(tensor.data as Float32Array);

/** A folder as SAELens writes one: its cfg.json and its weight names, nothing of ours. */
async function writeSaeLensFolder(cfg: Record<string, unknown>, weights: Record<string, { shape: number[]; data: number[] }>, dtype: SafetensorsDType = 'F32') {
  await writeFile(join(directory, 'cfg.json'), JSON.stringify(cfg));
  const tensors = Object.fromEntries(Object.entries(weights).map(([name, { shape, data }]) => [name, fromTypedArray(dtype, shape, Float32Array.from(data))]));
  await writeSafetensors(join(directory, 'sae_weights.safetensors'), tensors);
}

function randomWeights(rng: Rng, dIn: number, dSae: number, zeroEncoderBias = false) {
  const draw = (shape: number[], scale = 0.5) => ({ shape, data: values(randomTensor(rng, shape, 'float32', scale)) });
  return {
    W_enc: draw([dIn, dSae]),
    W_dec: draw([dSae, dIn]),
    b_enc: zeroEncoderBias ? { shape: [dSae], data: new Array(dSae).fill(0) } : draw([dSae], 0.1),
    b_dec: draw([dIn], 0.1),
  };
}

describe('saveSae / loadSae', () => {
  it.each(SAE_ARCHITECTURES)('%s round-trips config, parameters and state in SAELens layout', async (architecture) => {
    const sae = createSae({ architecture, act_size: 3, dict_size: 8, ...(architecture.includes('topk') ? { top_k: 2 } : {}), input_unit_norm: architecture === 'vanilla' });
    const rng = new Rng(3);
    const params = sae.initialParams();
    params.b_dec = randomTensor(rng, [3], 'float32');
    if (architecture !== 'topk' && architecture !== 'batchtopk') params.b_enc = randomTensor(rng, [8], 'float32');
    if (architecture === 'jumprelu') params.log_threshold = randomTensor(rng, [8], 'float32', 0.5);
    const state = sae.initialState();
    state.num_batches_not_active = hostTensor('float32', [8], [0, 1, 2, 3, 4, 5, 6, 7]);
    if (architecture === 'batchtopk') {
      state.threshold = hostTensor('float32', [], [0.125]);
      state.threshold_steps = hostTensor('float32', [], [40]);
    }
    await saveSae(directory, sae, params, state, { model_name: 'gpt2', hook_name: 'blocks.8.hook_resid_pre' });

    expect((await readdir(directory)).sort()).toEqual(['cfg.json', 'nnd_state.safetensors', 'sae_weights.safetensors']);
    const cfg = JSON.parse(await readFile(join(directory, 'cfg.json'), 'utf8'));
    expect(cfg).toMatchObject({
      // SAELens has no inference BatchTopK: it saves one as JumpReLU with a threshold per feature.
      architecture: { vanilla: 'standard', topk: 'topk', batchtopk: 'jumprelu', jumprelu: 'jumprelu' }[architecture],
      d_in: 3,
      d_sae: 8,
      dtype: 'float32',
      apply_b_dec_to_input: architecture !== 'jumprelu',
      normalize_activations: architecture === 'vanilla' ? 'layer_norm' : 'none',
      metadata: {
        sae_lens_version: '6.18.0',
        model_name: 'gpt2',
        hook_name: 'blocks.8.hook_resid_pre',
        hook_head_index: null,
        context_size: null,
        prepend_bos: null,
        dataset_path: null,
        nnd: sae.config,
      },
    });
    expect(cfg.k).toBe(architecture === 'topk' ? 2 : undefined);
    const weights = readSafetensors(await readFile(join(directory, 'sae_weights.safetensors'))).tensors;
    const expectedNames = ['W_dec', 'W_enc', 'b_dec', 'b_enc', ...(architecture === 'jumprelu' || architecture === 'batchtopk' ? ['threshold'] : [])];
    expect([...weights.keys()].sort()).toEqual(expectedNames);
    if (architecture === 'jumprelu') {
      expect(maxRelativeError(Array.from(toTypedArray(weights.get('threshold')!) as Float32Array), float32(params.log_threshold).map(Math.exp))).toBeLessThan(1e-6);
    }
    if (architecture === 'batchtopk') expect(Array.from(toTypedArray(weights.get('threshold')!) as Float32Array)).toEqual(new Array(8).fill(0.125));

    const loaded = await loadSae(directory);
    expect(loaded.sae.architecture).toBe(architecture);
    expect(loaded.sae.config).toEqual(sae.config);
    expect(loaded.metadata).toMatchObject({ sae_lens_version: '6.18.0', model_name: 'gpt2', hook_name: 'blocks.8.hook_resid_pre' });
    expect(loaded.metadata).not.toHaveProperty('nnd');
    expect(Object.keys(loaded.params).sort()).toEqual(Object.keys(params).sort());
    for (const name of Object.keys(params)) {
      if (name === 'log_threshold') expect(maxRelativeError(float32(loaded.params[name]), float32(params[name]))).toBeLessThan(1e-6);
      else expect(float32(loaded.params[name]), name).toEqual(float32(params[name]));
    }
    for (const name of Object.keys(state)) expect(float32(loaded.state[name]), name).toEqual(float32(state[name]));
  });

  it("records the SAE's own hook_point as SAELens's hook_name, unless the metadata names one", async () => {
    const sae = createSae({ architecture: 'topk', hook_point: 'blocks.2.hook_resid_pre', act_size: 2, dict_size: 4, top_k: 1 });
    await saveSae(directory, sae, sae.initialParams(new Rng(1)), sae.initialState());
    expect((await loadSae(directory)).metadata.hook_name).toBe('blocks.2.hook_resid_pre');
    await saveSae(directory, sae, sae.initialParams(new Rng(1)), sae.initialState(), { hook_name: 'blocks.2.hook_resid_post' });
    expect((await loadSae(directory)).metadata.hook_name).toBe('blocks.2.hook_resid_post');
    const unhooked = createSae({ architecture: 'topk', act_size: 2, dict_size: 4, top_k: 1 });
    await saveSae(directory, unhooked, unhooked.initialParams(new Rng(1)), unhooked.initialState());
    expect((await loadSae(directory)).metadata.hook_name).toBeNull();
  });

  it('overwrites an existing save atomically, leaving no temporary files', async () => {
    const sae = createSae({ architecture: 'vanilla', act_size: 2, dict_size: 4 });
    await saveSae(directory, sae, sae.initialParams(new Rng(1)), sae.initialState());
    const second = sae.initialParams(new Rng(2));
    await saveSae(directory, sae, second, sae.initialState());
    expect((await readdir(directory)).sort()).toEqual(['cfg.json', 'nnd_state.safetensors', 'sae_weights.safetensors']);
    expect(float32((await loadSae(directory)).params.W_enc)).toEqual(float32(second.W_enc));
  });

  it('rejects parameters whose shape does not match the config', async () => {
    const sae = createSae({ architecture: 'vanilla', act_size: 2, dict_size: 4 });
    const params = { ...sae.initialParams(), b_dec: hostTensor('float32', [3], [0, 0, 0]) };
    await expect(saveSae(directory, sae, params, sae.initialState())).rejects.toThrow(SaeFileError);
    await expect(saveSae(directory, sae, params, sae.initialState())).rejects.toThrow(/'b_dec' has shape \[3\], but the config needs \[2\]/);
  });
});

describe('loadSae on folders written by SAELens', () => {
  it('loads a JumpReLU SAE (Gemma Scope layout): log_threshold = log(threshold), no b_dec before the encoder', async () => {
    const rng = new Rng(8);
    const weights = { ...randomWeights(rng, 3, 6), threshold: { shape: [6], data: [0.05, 0.1, 0.2, 0.3, 0.01, 0.5] } };
    await writeSaeLensFolder(
      {
        architecture: 'jumprelu',
        d_in: 3,
        d_sae: 6,
        dtype: 'float32',
        device: 'cpu',
        apply_b_dec_to_input: false,
        normalize_activations: 'none',
        reshape_activations: 'none',
        metadata: { model_name: 'gemma-2-2b', hook_name: 'blocks.12.hook_resid_post' },
      },
      weights,
    );
    const { sae, params, state, metadata } = await loadSae(directory);
    expect(sae.config).toMatchObject({ architecture: 'jumprelu', act_size: 3, dict_size: 6, input_unit_norm: false });
    expect(metadata).toEqual({ model_name: 'gemma-2-2b', hook_name: 'blocks.12.hook_resid_post' });
    expect(
      maxRelativeError(
        float32(params.log_threshold),
        weights.threshold.data.map((t) => Math.log(Math.fround(t))),
      ),
    ).toBeLessThan(1e-6);
    expect(float32(state.num_batches_not_active)).toEqual(new Array(6).fill(0));

    // SAELens's JumpReLU encode: relu(x W_enc + b_enc) * (pre > threshold); decode adds b_dec.
    const graph = new Graph();
    const x = graph.input('x', [4, 3], 'float64');
    const inputs = Object.fromEntries(Object.entries(params).map(([name, tensor]) => [name, graph.input(name, tensor.shape, 'float64')]));
    const inference = sae.infer(graph, x, inputs, {});
    const xs = randomTensor(rng, [4, 3]);
    const out = evaluateNamed(graph, { acts: inference.featureActs }, forwardFeeds(xs, params, {}));
    const [xv, wEnc, bEnc] = [values(xs), weights.W_enc.data, weights.b_enc.data];
    const expected = Array.from({ length: 24 }, (_, i) => {
      const [b, f] = [Math.floor(i / 6), i % 6];
      const pre = Math.max(0, bEnc[f] + [0, 1, 2].reduce((s, a) => s + xv[b * 3 + a] * wEnc[a * 6 + f], 0));
      return pre > Math.fround(weights.threshold.data[f]) ? pre : 0;
    });
    expect(expected.filter((value) => value > 0).length).toBeGreaterThan(2);
    expect(maxRelativeError(out.acts, expected)).toBeLessThan(1e-6);
  });

  it('loads an older SAELens TopK (architecture standard, activation_fn_str topk) stored in bfloat16', async () => {
    await writeSaeLensFolder(
      {
        architecture: 'standard',
        d_in: 2,
        d_sae: 4,
        dtype: 'bfloat16',
        activation_fn_str: 'topk',
        activation_fn_kwargs: { k: 2 },
        apply_b_dec_to_input: true,
        normalize_activations: 'none',
        hook_name: 'blocks.0.hook_resid_pre',
      },
      randomWeights(new Rng(4), 2, 4, true),
      'BF16',
    );
    const { sae, params } = await loadSae(directory);
    expect(sae.config).toMatchObject({ architecture: 'topk', act_size: 2, dict_size: 4, top_k: 2 });
    expect(params.W_enc.dtype).toBe('float32');
    expect(params.W_enc.shape).toEqual([2, 4]);
  });

  it('maps a standard SAE with normalize_activations layer_norm to vanilla with input_unit_norm', async () => {
    await writeSaeLensFolder({ architecture: 'standard', d_in: 2, d_sae: 4, normalize_activations: 'layer_norm' }, randomWeights(new Rng(5), 2, 4));
    expect((await loadSae(directory)).sae.config).toMatchObject({ architecture: 'vanilla', input_unit_norm: true });
  });

  it('takes a BatchTopK threshold stored per feature as the running threshold', async () => {
    await writeSaeLensFolder(
      { architecture: 'batchtopk', d_in: 2, d_sae: 4, k: 1 },
      {
        ...randomWeights(new Rng(6), 2, 4, true),
        threshold: { shape: [4], data: [0.25, 0.25, 0.25, 0.25] },
      },
    );
    const { sae, state } = await loadSae(directory);
    expect(sae.config).toMatchObject({ architecture: 'batchtopk', top_k: 1 });
    expect(float32(state.threshold)).toEqual([0.25]);
    expect(float32(state.threshold_steps)).toEqual([0]);
  });

  it.each([
    [
      'an nnd TopK whose b_enc is non-zero but unused',
      { architecture: 'topk', d_in: 2, d_sae: 4, k: 1, metadata: { nnd: { architecture: 'topk', act_size: 2, dict_size: 4, top_k: 1 } } },
      {},
      ConfigError,
      /non-zero b_enc, but its config has encoder_bias = false/,
    ],
    [
      'an unsupported normalisation',
      { architecture: 'standard', d_in: 2, d_sae: 4, normalize_activations: 'expected_average_only_in' },
      {},
      ConfigError,
      /normalize_activations = "expected_average_only_in" is not supported; allowed: 'none' or 'layer_norm'/,
    ],
    ['a gated SAE', { architecture: 'gated', d_in: 2, d_sae: 4 }, {}, ConfigError, /architecture = "gated" is not supported; allowed: 'standard', 'topk', 'batchtopk', 'jumprelu'/],
    [
      'a non-boolean apply_b_dec_to_input',
      { architecture: 'standard', d_in: 2, d_sae: 4, apply_b_dec_to_input: 'yes' },
      {},
      ConfigError,
      /apply_b_dec_to_input = "yes" is invalid; allowed: true or false/,
    ],
    [
      'per-feature BatchTopK thresholds',
      { architecture: 'batchtopk', d_in: 2, d_sae: 4, k: 1 },
      { b_enc: { shape: [4], data: [0, 0, 0, 0] }, threshold: { shape: [4], data: [1, 2, 1, 1] } },
      ConfigError,
      /differs between features/,
    ],
    ['a missing threshold', { architecture: 'jumprelu', d_in: 2, d_sae: 4, apply_b_dec_to_input: false }, {}, SaeFileError, /has no 'log_threshold'/],
    [
      'a misshapen W_dec',
      { architecture: 'standard', d_in: 2, d_sae: 4 },
      { W_dec: { shape: [2, 4], data: [0, 0, 0, 0, 0, 0, 0, 0] } },
      SaeFileError,
      /'W_dec' .* has shape \[2, 4\], but cfg.json implies \[4, 2\]/,
    ],
  ])('rejects %s', async (_, cfg, overrides, errorClass, message) => {
    await writeSaeLensFolder(cfg, { ...randomWeights(new Rng(7), 2, 4), ...overrides });
    const attempt = loadSae(directory);
    await expect(attempt).rejects.toThrow(errorClass);
    await expect(loadSae(directory)).rejects.toThrow(message);
  });

  it('names the missing file', async () => {
    await expect(loadSae(directory)).rejects.toThrow(SaeFileError);
    await expect(loadSae(directory)).rejects.toThrow(/cfg.json" does not exist/);
  });

  it('names the weights file when it is not a safetensors file', async () => {
    await writeSaeLensFolder({ architecture: 'jumprelu', d_in: 2, d_sae: 4 }, randomWeights(new Rng(1), 2, 4));
    await writeFile(join(directory, 'sae_weights.safetensors'), new Uint8Array([3, 0, 0, 0, 0, 0, 0, 0, 1]));
    await expect(loadSae(directory)).rejects.toThrow(join(directory, 'sae_weights.safetensors'));
  });

  it('loads NaN weights but warns, naming the file and the tensors', async () => {
    const weights = randomWeights(new Rng(1), 2, 4);
    weights.W_dec.data[3] = Number.NaN;
    weights.b_dec.data[0] = Infinity;
    await writeSaeLensFolder({ architecture: 'jumprelu', d_in: 2, d_sae: 4 }, { ...weights, threshold: { shape: [4], data: [1, 1, 1, 1] } });
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const loaded = await loadSae(directory);
      expect(Number.isNaN(loaded.params.W_dec.data[3])).toBe(true);
      // emitWarning delivers on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ name: 'NndWarning', code: 'NND_NON_FINITE_WEIGHTS' });
    expect(warnings[0].message).toBe(
      `loadSae: ${JSON.stringify(join(directory, 'sae_weights.safetensors'))} holds NaN or infinite values in 'W_dec' (1 of 8 values), 'b_dec' (1 of 2 values); ` +
        "the SAE's outputs will not be finite. Load an earlier checkpoint.",
    );
  });
});
