import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOnnxBackend } from '@nnd/backend-onnx';
import { ConfigError, fromTypedArray, hostTensor, readSafetensors, Rng, toTypedArray, writeSafetensors, type HostTensor } from '@nnd/core';
import { trainDecomposition } from '@nnd/train';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CltFileError, loadClt, saveClt } from './clt-files.js';
import { createClt } from './cross-layer-transcoder.js';
import { batchesSource } from './test-support.js';

const backend = createOnnxBackend();
let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nnd-clt-files-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  await backend.dispose();
});

const F = 8;
const D = 4;

async function tensorsOf(path: string): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, tensor] of readSafetensors(await readFile(path)).tensors) out.set(name, { shape: tensor.shape, data: toTypedArray(tensor) as Float32Array });
  return out;
}

function randomised(tensors: Record<string, HostTensor>, rng: Rng): Record<string, HostTensor> {
  return Object.fromEntries(Object.entries(tensors).map(([name, tensor]) => [name, hostTensor('float32', tensor.shape, rng.normal(tensor.data.length, 0, 0.5))]));
}

describe('CLT files', () => {
  it("writes circuit-tracer's layout (and reads it back exactly, with the state)", async () => {
    const clt = createClt({ encoder_type: 'jumprelu', layers: [1, 2, 4], dict_size: F, input_size: D, output_size: D });
    const rng = new Rng(5);
    const params = randomised(clt.initialParams(), rng);
    const state = Object.fromEntries(Object.entries(clt.initialState()).map(([name, tensor], i) => [name, hostTensor('float32', tensor.shape, new Float32Array(F).fill(i + 2))]));
    const directory = join(root, 'saved');
    await saveClt(directory, clt, params, state, { model_name: 'tiny' });

    expect((await readdir(directory)).sort()).toEqual([
      'W_dec_0.safetensors',
      'W_dec_1.safetensors',
      'W_dec_2.safetensors',
      'W_enc_0.safetensors',
      'W_enc_1.safetensors',
      'W_enc_2.safetensors',
      'cfg.json',
      'nnd_state.safetensors',
    ]);
    // circuit-tracer's load_clt: W_enc_{i} [d_transcoder, d_model], b_enc_{i}, b_dec_{i}, threshold_{i}; W_dec_{i} [d_transcoder, n - i, d_model].
    const encoder = await tensorsOf(join(directory, 'W_enc_1.safetensors'));
    expect([...encoder.keys()].sort()).toEqual(['W_enc_1', 'b_dec_1', 'b_enc_1', 'threshold_1']);
    expect(encoder.get('W_enc_1')!.shape).toEqual([F, D]);
    const ours = params.W_enc_1.data as Float32Array;
    expect(encoder.get('W_enc_1')!.data[3 * D + 2]).toBe(ours[2 * F + 3]);
    expect(Array.from(encoder.get('threshold_1')!.data)).toEqual(Array.from(params.log_threshold_1.data as Float32Array, (value) => Math.fround(Math.exp(value))));
    const decoder = await tensorsOf(join(directory, 'W_dec_1.safetensors'));
    expect(decoder.get('W_dec_1')!.shape).toEqual([F, 2, D]);

    const loaded = await loadClt(directory);
    expect(loaded.clt.config).toEqual(clt.config);
    expect(loaded.metadata).toEqual({ model_name: 'tiny' });
    for (const name of clt.parameterNames) expect(Array.from(loaded.params[name].data as Float32Array), name).toEqual(Array.from(params[name].data as Float32Array));
    for (const name of Object.keys(state)) expect(loaded.state[name].data).toEqual(state[name].data);
  });

  it('reads a folder circuit-tracer wrote: JumpReLU when it has thresholds, ReLU otherwise, its hooks, BF16 weights', async () => {
    for (const jumprelu of [true, false]) {
      const directory = join(root, `circuit-tracer-${jumprelu}`);
      await mkdir(directory);
      const rng = new Rng(9);
      for (let i = 0; i < 2; i++) {
        const encoder: Record<string, ReturnType<typeof fromTypedArray>> = {
          [`W_enc_${i}`]: fromTypedArray('BF16', [F, D], rng.normal(F * D)),
          [`b_enc_${i}`]: fromTypedArray('F32', [F], rng.normal(F)),
          [`b_dec_${i}`]: fromTypedArray('F32', [D], rng.normal(D)),
        };
        if (jumprelu) encoder[`threshold_${i}`] = fromTypedArray('F32', [F], new Float32Array(F).fill(0.25));
        await writeSafetensors(join(directory, `W_enc_${i}.safetensors`), encoder);
        await writeSafetensors(join(directory, `W_dec_${i}.safetensors`), { [`W_dec_${i}`]: fromTypedArray('F32', [F, 2 - i, D], rng.normal(F * (2 - i) * D)) });
      }
      const { clt, params, state } = await loadClt(directory);
      expect(clt.architecture).toBe(jumprelu ? 'jumprelu_clt' : 'vanilla_clt');
      expect(clt.reads.map(({ hook }) => hook)).toEqual(['blocks.0.hook_resid_mid', 'blocks.1.hook_resid_mid']);
      expect(clt.writes.map(({ hook }) => hook)).toEqual(['blocks.0.hook_mlp_out', 'blocks.1.hook_mlp_out']);
      expect(params.W_enc_0.shape).toEqual([D, F]);
      expect(params.W_dec_1.shape).toEqual([F, 1, D]);
      if (jumprelu) expect((params.log_threshold_1.data as Float32Array)[0]).toBeCloseTo(Math.log(0.25), 6);
      expect(Array.from(state.num_batches_not_active_0.data as Float32Array)).toEqual(new Array(F).fill(0));
      const relabelled = await loadClt(directory, { layers: [3, 7], hook_template_in: 'blocks.{layer}.ln2.hook_normalized' });
      expect(relabelled.clt.reads.map(({ hook }) => hook)).toEqual(['blocks.3.ln2.hook_normalized', 'blocks.7.ln2.hook_normalized']);
    }
  });

  it('refuses what it cannot reproduce or find, saying what', async () => {
    const directory = join(root, 'skip');
    await mkdir(directory);
    await writeSafetensors(join(directory, 'W_enc_0.safetensors'), {
      W_enc_0: fromTypedArray('F32', [F, D], new Float32Array(F * D)),
      b_enc_0: fromTypedArray('F32', [F], new Float32Array(F)),
      b_dec_0: fromTypedArray('F32', [D], new Float32Array(D)),
      W_skip_0: fromTypedArray('F32', [D, D], new Float32Array(D * D)),
    });
    await expect(loadClt(directory)).rejects.toThrow(ConfigError);
    await expect(loadClt(directory)).rejects.toThrow(/skip connection \(W_skip_0\)/);
    await expect(loadClt(join(root, 'nothing-here'))).rejects.toThrow(CltFileError);

    const partial = join(root, 'partial');
    const clt = createClt({ encoder_type: 'topk', layers: [0, 1], dict_size: F, input_size: D, output_size: D, top_k: 2 });
    await saveClt(partial, clt, clt.initialParams(), clt.initialState());
    await rm(join(partial, 'W_dec_1.safetensors'));
    await expect(loadClt(partial)).rejects.toThrow(/W_dec_1\.safetensors" does not exist/);
    await writeFile(join(partial, 'cfg.json'), '{"architecture": "topk"}');
    await expect(loadClt(partial)).rejects.toThrow(/is not an nnd CLT config/);
  });

  it("serves as the trainer's checkpoint writer: a run resumed from step 2 ends where the straight run does", async () => {
    const clt = createClt({ encoder_type: 'topk', layers: [0, 1], dict_size: F, input_size: D, output_size: D, top_k: 2, n_batches_to_dead: 1 });
    const rng = new Rng(3);
    const batches = Array.from({ length: 4 }, () => Object.fromEntries([...clt.reads, ...clt.writes].map(({ hook }) => [hook, Float32Array.from(rng.normal(16 * D))])));
    const config = { num_tokens: 16 * 4, batch_size: 16, lr: 1e-2, checkpoint_freq: 2 };
    const straight = await trainDecomposition(clt, batchesSource(batches), config, { backend, handleSignals: false });
    const checkpointDir = join(root, 'checkpoints');
    const stopAfterTwo = new AbortController();
    await trainDecomposition(clt, batchesSource(batches), config, {
      backend,
      handleSignals: false,
      checkpointDir,
      saveFiles: saveClt,
      signal: stopAfterTwo.signal,
      logger: {
        log: (_metrics, step) => {
          if (step === 1) stopAfterTwo.abort();
        },
      },
    });
    const files = await readdir(join(checkpointDir, 'step_2'));
    expect(files).toEqual(expect.arrayContaining(['W_enc_0.safetensors', 'W_dec_1.safetensors', 'cfg.json', 'nnd_state.safetensors']));
    expect((await loadClt(join(checkpointDir, 'step_2'))).clt.config).toEqual(clt.config);
    const resumed = await trainDecomposition(clt, batchesSource(batches), config, { backend, handleSignals: false, resumeFrom: checkpointDir, saveFiles: saveClt });
    for (const name of clt.parameterNames) expect(resumed.params[name].data, name).toEqual(straight.params[name].data);
  });
});
