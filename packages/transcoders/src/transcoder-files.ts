import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, fromTypedArray, hostTensor, writeFileDurably, writeSafetensors, type HostTensor, type SafetensorsTensor } from '@nnd/core';
import { fromSaeLensTranscoderConfig, NND_METADATA_KEY, toSaeLensTranscoderConfig } from './saelens-transcoder-config.js';
import { floatTensors, pickTensor, readJson, readOptional, readRequired } from './tensor-files.js';
import type { TranscoderConfig } from './transcoder-config.js';
import { TranscoderFileError } from './transcoder-file-error.js';
import { createTranscoder } from './transcoder-registry.js';
import type { Transcoder } from './transcoder.js';

export const TRANSCODER_CONFIG_FILE = 'cfg.json';
export const TRANSCODER_WEIGHTS_FILE = 'sae_weights.safetensors';
/** Our non-trained state (dead-feature counters, BatchTopK's running threshold), apart because SAELens loads the weights strictly. */
export const TRANSCODER_STATE_FILE = 'nnd_state.safetensors';

const LAYOUT = `a transcoder folder holds ${TRANSCODER_CONFIG_FILE} and ${TRANSCODER_WEIGHTS_FILE} (SAELens's layout)`;

export interface LoadedTranscoder {
  transcoder: Transcoder<TranscoderConfig>;
  params: Record<string, HostTensor>;
  state: Record<string, HostTensor>;
  /** cfg.json's `metadata` without our config (model_name, hook_name, ...). */
  metadata: Record<string, unknown>;
}

/** The shape of every tensor a config implies. */
function transcoderShapes(config: TranscoderConfig): Record<string, number[]> {
  const { input_size: dIn, output_size: dOut, dict_size: features } = config;
  return {
    b_dec: [dOut],
    b_enc: [features],
    W_enc: [dIn, features],
    W_dec: [features, dOut],
    W_skip: [dOut, dIn],
    log_threshold: [features],
    threshold: [features],
    num_batches_not_active: [features],
    running_threshold: [],
    threshold_steps: [],
  };
}

function float32Data(tensor: HostTensor | undefined, name: string, role: string, expected: readonly number[], have: readonly string[]): Float32Array {
  if (tensor === undefined) throw new TranscoderFileError(`saveTranscoder: ${role} '${name}' is missing; got {${have.join(', ')}}.`);
  if (tensor.dtype !== 'float32' && tensor.dtype !== 'float64') {
    throw new TranscoderFileError(`saveTranscoder: '${name}' has dtype ${tensor.dtype}; transcoder tensors are float32 (float64 is converted).`);
  }
  if (tensor.shape.length !== expected.length || tensor.shape.some((dim, i) => dim !== expected[i])) {
    throw new TranscoderFileError(`saveTranscoder: '${name}' has shape [${tensor.shape.join(', ')}], but the config needs [${expected.join(', ')}].`);
  }
  return tensor.data instanceof Float32Array ? tensor.data : Float32Array.from(tensor.data as Float64Array);
}

/**
 * Saves a transcoder in SAELens's layout: `cfg.json` (SAELens 6 fields with
 * d_out, `metadata` with sae_lens_version, hook_name and hook_name_out,
 * `extraMetadata`, and our full config under metadata.nnd),
 * `sae_weights.safetensors` (W_enc, b_enc, W_dec, b_dec, W_skip with skip,
 * `threshold` = exp(log_threshold) for JumpReLU and the running threshold
 * per feature for BatchTopK) and `nnd_state.safetensors`. Each file is
 * written atomically; the config goes last.
 */
export async function saveTranscoder(
  directory: string,
  transcoder: Transcoder<TranscoderConfig>,
  params: Record<string, HostTensor>,
  state: Record<string, HostTensor>,
  extraMetadata: Record<string, unknown> = {},
): Promise<void> {
  const { config } = transcoder;
  const shapes = transcoderShapes(config);
  const param = (name: string) => float32Data(params[name], name, 'parameter', shapes[name], Object.keys(params));
  const weights: Record<string, SafetensorsTensor> = {};
  for (const name of ['W_enc', 'b_enc', 'W_dec', 'b_dec', ...(config.skip ? ['W_skip'] : [])]) weights[name] = fromTypedArray('F32', shapes[name], param(name));
  if (config.architecture === 'jumprelu_transcoder') weights.threshold = fromTypedArray('F32', shapes.threshold, param('log_threshold').map(Math.exp));
  if (config.architecture === 'batchtopk_transcoder') {
    const threshold = float32Data(state.threshold, 'threshold', 'state', [], Object.keys(state))[0];
    weights.threshold = fromTypedArray('F32', shapes.threshold, new Float32Array(config.dict_size).fill(threshold));
  }
  const stateTensors: Record<string, SafetensorsTensor> = {};
  for (const name of Object.keys(transcoder.initialState())) {
    const shape = name === 'threshold' ? shapes.running_threshold : shapes[name];
    stateTensors[name] = fromTypedArray('F32', shape, float32Data(state[name], name, 'state', shape, Object.keys(state)));
  }
  try {
    await mkdir(directory, { recursive: true });
    await writeSafetensors(join(directory, TRANSCODER_WEIGHTS_FILE), weights);
    await writeSafetensors(join(directory, TRANSCODER_STATE_FILE), stateTensors);
    await writeFileDurably(join(directory, TRANSCODER_CONFIG_FILE), `${JSON.stringify(toSaeLensTranscoderConfig(config, extraMetadata), null, 2)}\n`);
  } catch (cause) {
    if (cause instanceof TranscoderFileError) throw cause;
    throw new TranscoderFileError(`saveTranscoder: cannot write ${JSON.stringify(directory)}: ${cause instanceof Error ? cause.message : String(cause)}; check that the folder is writable.`, {
      cause,
    });
  }
}

/**
 * Loads a transcoder folder in SAELens's layout, written by saveTranscoder
 * or by SAELens ('transcoder', 'skip_transcoder', 'jumprelu_transcoder',
 * 'jumprelu_skip_transcoder'). JumpReLU's log_threshold = log(threshold).
 * State comes from nnd_state.safetensors when present, otherwise it starts
 * fresh (BatchTopK takes its threshold from the weights file).
 */
export async function loadTranscoder(directory: string): Promise<LoadedTranscoder> {
  const configPath = join(directory, TRANSCODER_CONFIG_FILE);
  const cfg = await readJson(configPath, LAYOUT);
  const config = fromSaeLensTranscoderConfig(cfg, `loadTranscoder ${JSON.stringify(configPath)}`);
  const transcoder = createTranscoder(config);
  const shapes = transcoderShapes(config);
  const implied = `cfg.json (d_in ${config.input_size}, d_sae ${config.dict_size}, d_out ${config.output_size})`;

  const weightsPath = join(directory, TRANSCODER_WEIGHTS_FILE);
  const weights = floatTensors(await readRequired(weightsPath, 'loadTranscoder: weights', LAYOUT), weightsPath);
  const params: Record<string, HostTensor> = {};
  for (const name of ['b_dec', 'b_enc', 'W_enc', 'W_dec']) params[name] = pickTensor(weights, name, shapes[name], weightsPath, implied);
  if (config.skip) {
    if (!weights.has('W_skip')) {
      throw new TranscoderFileError(
        `loadTranscoder: ${JSON.stringify(weightsPath)} has no 'W_skip', but cfg.json's architecture '${(cfg as Record<string, unknown>).architecture}' has a skip connection; add W_skip [${shapes.W_skip.join(', ')}] or use the architecture without 'skip'.`,
      );
    }
    params.W_skip = pickTensor(weights, 'W_skip', shapes.W_skip, weightsPath, implied);
  } else if (weights.has('W_skip')) {
    throw new TranscoderFileError(
      `loadTranscoder: ${JSON.stringify(weightsPath)} has a 'W_skip', but cfg.json's architecture has no skip connection; name it with 'skip' (e.g. 'skip_transcoder') or drop W_skip.`,
    );
  }
  if (config.architecture === 'jumprelu_transcoder') {
    if (weights.has('threshold')) {
      // The ReLU comes first, so a threshold <= 0 acts as 0 (SAELens's relu(pre) * (pre > threshold) does the same); log(0) = -Infinity gives exp 0.
      const threshold = pickTensor(weights, 'threshold', shapes.threshold, weightsPath, implied).data;
      params.log_threshold = hostTensor(
        'float32',
        shapes.log_threshold,
        threshold.map((value) => Math.log(Math.max(value, 0))),
      );
    } else if (weights.has('log_threshold')) {
      params.log_threshold = pickTensor(weights, 'log_threshold', shapes.log_threshold, weightsPath, implied);
    } else {
      throw new TranscoderFileError(
        `loadTranscoder: ${JSON.stringify(weightsPath)} is a JumpReLU transcoder without its 'threshold' [${config.dict_size}]; add the per-feature thresholds (SAELens's 'threshold', or nnd's 'log_threshold'), or load it as a 'transcoder'.`,
      );
    }
  }

  const state = transcoder.initialState();
  const statePath = join(directory, TRANSCODER_STATE_FILE);
  const stateBytes = await readOptional(statePath);
  if (stateBytes !== undefined) {
    const saved = floatTensors(stateBytes, statePath);
    for (const name of Object.keys(state)) state[name] = pickTensor(saved, name, name === 'threshold' ? [] : shapes[name], statePath, implied);
  } else if (config.architecture === 'batchtopk_transcoder' && weights.has('threshold')) {
    const stored = pickTensor(weights, 'threshold', shapes.threshold, weightsPath, implied);
    const first = stored.data[0];
    if (stored.data.some((value) => value !== first)) {
      throw new ConfigError(
        `loadTranscoder: 'threshold' in ${JSON.stringify(weightsPath)} differs between features, but a BatchTopK transcoder has one threshold; load it as a JumpReLU transcoder instead.`,
      );
    }
    state.threshold = hostTensor('float32', [], [first]);
  }

  const metadata = typeof cfg === 'object' && cfg !== null && 'metadata' in cfg && typeof cfg.metadata === 'object' && cfg.metadata !== null ? { ...(cfg.metadata as Record<string, unknown>) } : {};
  delete metadata[NND_METADATA_KEY];
  return { transcoder, params, state, metadata };
}
