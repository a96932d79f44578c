import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromTypedArray, Rng, writeSafetensors, type HostTensor } from '@nnd/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTranscoderForward, evaluate, transcoderFeeds } from './test-support.js';
import { loadSparsifyTranscoder } from './sparsify-files.js';
import { loadTranscoder, saveTranscoder } from './transcoder-files.js';
import { TranscoderFileError } from './transcoder-file-error.js';
import { createTranscoder } from './transcoder-registry.js';
import type { Transcoder } from './transcoder.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nnd-transcoder-files-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const BATCH = 5;

/** Forward outputs (output and feature activations) on fixed random data. */
function outputsOf(transcoder: Transcoder, params: Record<string, HostTensor>, state: Record<string, HostTensor>): Record<string, number[]> {
  const rng = new Rng(21);
  const { input_size: dIn, output_size: dOut } = transcoder.config;
  const built = buildTranscoderForward(transcoder, BATCH);
  return evaluate(
    built.graph,
    { output: built.output.outputs[transcoder.outputHook], acts: built.output.featureActs },
    transcoderFeeds(rng.normal(BATCH * dIn, 0, 2), rng.normal(BATCH * dOut, 0, 1), transcoder, params, state),
  );
}

/** Parameters with every tensor non-zero (trained-looking), thresholds small enough that some features fire. */
function trainedParams(transcoder: Transcoder): Record<string, HostTensor> {
  const params = transcoder.initialParams(new Rng(4));
  const rng = new Rng(5);
  for (const [name, tensor] of Object.entries(params)) {
    if (name === 'W_enc' || name === 'W_dec') continue;
    (tensor.data as Float32Array).set(rng.normal(tensor.data.length, name === 'log_threshold' ? -1 : 0, 0.3));
  }
  return params;
}

const SHAPE = { input_size: 6, output_size: 4, dict_size: 10 };
const CONFIGS: Record<string, unknown>[] = [
  { architecture: 'vanilla_transcoder', ...SHAPE, l1_coeff: 0.1 },
  { architecture: 'topk_transcoder', ...SHAPE, top_k: 3, skip: true, hook_point: 'blocks.1.ln2.hook_normalized', hook_point_out: 'blocks.1.hook_mlp_out' },
  { architecture: 'batchtopk_transcoder', ...SHAPE, top_k: 2 },
  { architecture: 'jumprelu_transcoder', ...SHAPE, skip: true, l1_coeff: 0.01 },
  { architecture: 'topk_transcoder', input_size: 5, output_size: 5, dict_size: 10, top_k: 2, pre_enc_bias: true },
];

describe("transcoder files in SAELens's layout", () => {
  it.each(CONFIGS.map((config) => [`${config.architecture}${config.skip ? ' skip' : ''}${config.pre_enc_bias ? ' pre_enc_bias' : ''}`, config]))(
    '%s: save then load gives the same config, parameters, state and outputs',
    async (name, config) => {
      const transcoder = createTranscoder(config);
      const params = trainedParams(transcoder);
      const state = transcoder.initialState();
      (state.num_batches_not_active.data as Float32Array)[3] = 7;
      if (state.threshold !== undefined) (state.threshold.data as Float32Array)[0] = 0.25;
      const directory = join(root, name.replace(/ /g, '-'));
      await saveTranscoder(directory, transcoder, params, state, { model_name: 'gpt2' });
      const loaded = await loadTranscoder(directory);
      expect(loaded.transcoder.config).toEqual(transcoder.config);
      expect(loaded.metadata).toMatchObject({ model_name: 'gpt2', sae_lens_version: '6.18.0' });
      for (const [key, tensor] of Object.entries(params)) {
        const values = Array.from(loaded.params[key].data as Float32Array);
        Array.from(tensor.data as Float32Array).forEach((value, i) => expect(values[i]).toBeCloseTo(value, 5));
      }
      expect(loaded.state.num_batches_not_active.data[3]).toBe(7);
      const before = outputsOf(transcoder, params, state);
      const after = outputsOf(loaded.transcoder, loaded.params, loaded.state);
      before.output.forEach((value, i) => expect(after.output[i]).toBeCloseTo(value, 5));
      before.acts.forEach((value, i) => expect(after.acts[i]).toBeCloseTo(value, 5));
    },
  );

  it('writes SAELens 6 fields: architecture, d_in, d_sae, d_out, metadata with hook_name, hook_name_out and sae_lens_version', async () => {
    const transcoder = createTranscoder(CONFIGS[1]);
    const directory = join(root, 'fields');
    await saveTranscoder(directory, transcoder, trainedParams(transcoder), transcoder.initialState());
    const cfg = JSON.parse(await readFile(join(directory, 'cfg.json'), 'utf8'));
    expect(cfg).toMatchObject({
      architecture: 'topk_skip_transcoder',
      d_in: 6,
      d_sae: 10,
      d_out: 4,
      k: 3,
      apply_b_dec_to_input: false,
      metadata: { sae_lens_version: '6.18.0', hook_name: 'blocks.1.ln2.hook_normalized', hook_name_out: 'blocks.1.hook_mlp_out' },
    });
    expect(cfg.metadata.nnd.architecture).toBe('topk_transcoder');
  });
});

async function writeFolder(directory: string, cfg: unknown, weightsFile: string, tensors: Record<string, [number[], Float32Array]>): Promise<void> {
  await saveJson(directory, cfg);
  await writeSafetensors(join(directory, weightsFile), Object.fromEntries(Object.entries(tensors).map(([name, [shape, data]]) => [name, fromTypedArray('F32', shape, data)])));
}

async function saveJson(directory: string, cfg: unknown): Promise<void> {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(directory, { recursive: true });
  await writeFile(join(directory, 'cfg.json'), JSON.stringify(cfg));
}

describe('transcoder folders written by other tools', () => {
  const rng = new Rng(9);
  const wEnc = rng.normal(6 * 10, 0, 0.5);
  const bEnc = rng.normal(10, 0, 0.1);
  const wDec = rng.normal(10 * 4, 0, 0.5);
  const bDec = rng.normal(4, 0, 0.1);
  const wSkip = rng.normal(4 * 6, 0, 0.1);
  const threshold = Float32Array.from(rng.uniform(10, 0.2, 0.6));
  // Thresholds <= 0 do what SAELens does with them: nothing beyond the ReLU.
  threshold[0] = -0.1;
  threshold[1] = 0;

  it('loads a SAELens jumprelu_skip_transcoder written by hand: log_threshold = log(threshold), hooks from metadata', async () => {
    const directory = join(root, 'saelens-jumprelu');
    await writeFolder(
      directory,
      {
        architecture: 'jumprelu_skip_transcoder',
        d_in: 6,
        d_sae: 10,
        d_out: 4,
        dtype: 'float32',
        device: 'cpu',
        apply_b_dec_to_input: false,
        normalize_activations: 'none',
        metadata: { sae_lens_version: '6.18.0', hook_name: 'blocks.0.ln2.hook_normalized', hook_name_out: 'blocks.0.hook_mlp_out' },
      },
      'sae_weights.safetensors',
      {
        W_enc: [[6, 10], wEnc],
        b_enc: [[10], bEnc],
        W_dec: [[10, 4], wDec],
        b_dec: [[4], bDec],
        W_skip: [[4, 6], wSkip],
        threshold: [[10], threshold],
      },
    );
    const loaded = await loadTranscoder(directory);
    expect(loaded.transcoder.architecture).toBe('jumprelu_transcoder');
    expect(loaded.transcoder.config).toMatchObject({ input_size: 6, output_size: 4, dict_size: 10, skip: true });
    expect(loaded.transcoder.reads).toEqual([{ hook: 'blocks.0.ln2.hook_normalized', width: 6 }]);
    expect(loaded.transcoder.writes).toEqual([{ hook: 'blocks.0.hook_mlp_out', width: 4 }]);
    Array.from(loaded.params.log_threshold.data as Float32Array).forEach((value, i) => expect(Math.exp(value)).toBeCloseTo(Math.max(threshold[i], 0), 6));
    // SAELens's JumpReLU transcoder: relu(pre) * (pre > threshold) @ W_dec + b_dec + x @ W_skip^T.
    const x = new Rng(3).normal(6, 0, 2);
    const pre = Array.from({ length: 10 }, (_, f) => x.reduce((sum, value, i) => sum + value * wEnc[i * 10 + f], bEnc[f]));
    const acts = pre.map((value, f) => (value > threshold[f] ? Math.max(value, 0) : 0));
    const expected = Array.from({ length: 4 }, (_, o) => acts.reduce((sum, a, f) => sum + a * wDec[f * 4 + o], bDec[o]) + x.reduce((sum, value, i) => sum + value * wSkip[o * 6 + i], 0));
    const built = buildTranscoderForward(loaded.transcoder, 1);
    const out = evaluate(built.graph, { output: built.output.outputs['blocks.0.hook_mlp_out'] }, transcoderFeeds(x, new Float32Array(4), loaded.transcoder, loaded.params, loaded.state)).output;
    out.forEach((value, i) => expect(value).toBeCloseTo(expected[i], 5));
  });

  it('refuses a JumpReLU file missing its threshold, widths that disagree, and a W_skip the architecture does not have', async () => {
    const cfg = { architecture: 'jumprelu_transcoder', d_in: 6, d_sae: 10, d_out: 4 };
    const base = { W_enc: [[6, 10], wEnc], b_enc: [[10], bEnc], W_dec: [[10, 4], wDec], b_dec: [[4], bDec] } as Record<string, [number[], Float32Array]>;
    await writeFolder(join(root, 'no-threshold'), cfg, 'sae_weights.safetensors', base);
    await expect(loadTranscoder(join(root, 'no-threshold'))).rejects.toThrow(TranscoderFileError);
    await expect(loadTranscoder(join(root, 'no-threshold'))).rejects.toThrow(/JumpReLU transcoder without its 'threshold' \[10\]; add the per-feature thresholds/);
    await writeFolder(join(root, 'wrong-width'), { ...cfg, architecture: 'transcoder', d_out: 5 }, 'sae_weights.safetensors', base);
    await expect(loadTranscoder(join(root, 'wrong-width'))).rejects.toThrow(/'b_dec' .* has shape \[4\], but cfg.json \(d_in 6, d_sae 10, d_out 5\) implies \[5\]; the widths disagree/);
    await writeFolder(join(root, 'stray-skip'), { ...cfg, architecture: 'transcoder' }, 'sae_weights.safetensors', { ...base, W_skip: [[4, 6], wSkip] });
    await expect(loadTranscoder(join(root, 'stray-skip'))).rejects.toThrow(/has a 'W_skip', but cfg.json's architecture has no skip connection/);
    await saveJson(join(root, 'an-sae'), { architecture: 'topk', d_in: 6, d_sae: 10 });
    await expect(loadTranscoder(join(root, 'an-sae'))).rejects.toThrow(/architecture = "topk" is not a transcoder.*loadSae from @nnd\/sae/);
  });

  it("loads a sparsify transcoder (encoder.weight [F, d_in]) as a topk_transcoder whose outputs are sparsify's", async () => {
    const directory = join(root, 'sparsify', 'layers.3.mlp');
    const encoderWeight = new Float32Array(10 * 6);
    for (let f = 0; f < 10; f++) for (let i = 0; i < 6; i++) encoderWeight[f * 6 + i] = wEnc[i * 10 + f];
    await writeFolder(
      directory,
      {
        activation: 'topk',
        expansion_factor: 32,
        normalize_decoder: true,
        num_latents: 10,
        k: 3,
        multi_topk: false,
        skip_connection: true,
        transcode: true,
        d_in: 6,
      },
      'sae.safetensors',
      {
        'encoder.weight': [[10, 6], encoderWeight],
        'encoder.bias': [[10], bEnc],
        W_dec: [[10, 4], wDec],
        b_dec: [[4], bDec],
        W_skip: [[4, 6], wSkip],
      },
    );
    const loaded = await loadSparsifyTranscoder(directory, { hook_point: 'layers.3.mlp.in', hook_point_out: 'layers.3.mlp.out' });
    expect(loaded.transcoder.config).toMatchObject({ architecture: 'topk_transcoder', input_size: 6, output_size: 4, dict_size: 10, top_k: 3, skip: true, pre_enc_bias: false });
    expect(Array.from(loaded.params.W_enc.data as Float32Array)).toEqual(Array.from(wEnc));
    // sparsify: top-3 of relu(x W^T + b), decoded through W_dec, + b_dec + x W_skip^T.
    const x = new Rng(4).normal(6, 0, 2);
    const pre = Array.from({ length: 10 }, (_, f) =>
      Math.max(
        0,
        x.reduce((sum, value, i) => sum + value * encoderWeight[f * 6 + i], bEnc[f]),
      ),
    );
    const kept = [...pre.keys()].sort((a, b) => pre[b] - pre[a]).slice(0, 3);
    const expected = Array.from({ length: 4 }, (_, o) => kept.reduce((sum, f) => sum + pre[f] * wDec[f * 4 + o], bDec[o]) + x.reduce((sum, value, i) => sum + value * wSkip[o * 6 + i], 0));
    const built = buildTranscoderForward(loaded.transcoder, 1);
    const out = evaluate(built.graph, { output: built.output.outputs['layers.3.mlp.out'] }, transcoderFeeds(x, new Float32Array(4), loaded.transcoder, loaded.params)).output;
    out.forEach((value, i) => expect(value).toBeCloseTo(expected[i], 5));
  });

  it('refuses a sparsify SAE (transcode false) and files that disagree', async () => {
    await saveJson(join(root, 'sparsify-sae'), { activation: 'topk', k: 3, transcode: false, d_in: 6 });
    await expect(loadSparsifyTranscoder(join(root, 'sparsify-sae'))).rejects.toThrow(/sparsify SAE, not a transcoder/);
    const directory = join(root, 'sparsify-bad');
    await writeFolder(directory, { activation: 'topk', k: 3, transcode: true, d_in: 7, skip_connection: false }, 'sae.safetensors', {
      'encoder.weight': [[10, 6], new Float32Array(60)],
      'encoder.bias': [[10], bEnc],
      W_dec: [[10, 4], wDec],
      b_dec: [[4], bDec],
    });
    await expect(loadSparsifyTranscoder(directory)).rejects.toThrow(/d_in = 7 disagrees with encoder.weight \[10, 6\]/);
  });
});
