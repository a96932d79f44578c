import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, fromTypedArray, hostTensor, readSafetensors, toTypedArray, writeFileDurably, writeSafetensors, type HostTensor, type SafetensorsTensor } from '@nnd/core';
import type { SaeConfig } from './sae-config.js';
import { createSae } from './sae-registry.js';
import { SaeFileError } from './sae-file-error.js';
import { appliesBDecToInput, readSaeLensConfig, saeLensMetadata, toSaeLensConfig, type SaeLensConversion } from './saelens-config.js';
import type { SparseAutoencoder } from './sparse-autoencoder.js';

export const SAE_CONFIG_FILE = 'cfg.json';
export const SAE_WEIGHTS_FILE = 'sae_weights.safetensors';
/**
 * Our non-trained state (dead-feature counters, BatchTopK's threshold and
 * its step count). Kept out of the weights file because SAELens loads that
 * file strictly and would reject unknown keys.
 */
export const SAE_STATE_FILE = 'nnd_state.safetensors';

/** The SAELens weight names every type writes. */
const SAELENS_WEIGHTS = ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const;

export interface LoadedSae {
  sae: SparseAutoencoder<SaeConfig>;
  params: Record<string, HostTensor>;
  state: Record<string, HostTensor>;
  /**
   * cfg.json's `metadata` without our config (model_name, hook_name,
   * sae_lens_version, ...); for files from before SAELens 6.0, the same
   * fields gathered from the top level.
   */
  metadata: Record<string, unknown>;
}

function expectedShapes(config: Pick<SaeConfig, 'architecture' | 'act_size' | 'dict_size'>): Record<string, number[]> {
  const { act_size: actSize, dict_size: dictSize } = config;
  return {
    b_dec: [actSize],
    b_enc: [dictSize],
    W_enc: [actSize, dictSize],
    W_dec: [dictSize, actSize],
    log_threshold: [dictSize],
    threshold: config.architecture === 'batchtopk' ? [] : [dictSize],
    num_batches_not_active: [dictSize],
    threshold_steps: [],
  };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, i) => dim === b[i]);
}

function float32Data(tensor: HostTensor, name: string, expected: readonly number[]): Float32Array {
  if (tensor.dtype !== 'float32' && tensor.dtype !== 'float64') {
    throw new SaeFileError(`saveSae: '${name}' has dtype ${tensor.dtype}; SAE tensors are float32 (float64 is converted).`);
  }
  if (!sameShape(tensor.shape, expected)) {
    throw new SaeFileError(`saveSae: '${name}' has shape [${tensor.shape.join(', ')}], but the config needs [${expected.join(', ')}].`);
  }
  return tensor.data instanceof Float32Array ? tensor.data : Float32Array.from(tensor.data as Float64Array);
}

/** Writes a small file atomically and durably (core's writeFileDurably), as a SaeFileError when it cannot. */
async function writeFileAtomically(path: string, text: string): Promise<void> {
  try {
    await writeFileDurably(path, text);
  } catch (cause) {
    throw new SaeFileError(`cannot write ${JSON.stringify(path)}: ${cause instanceof Error ? cause.message : String(cause)}; check that the folder is writable.`, { cause });
  }
}

/**
 * Saves an SAE in SAELens's layout: `cfg.json` (SAELens fields, our full
 * config under metadata.nnd, `extraMetadata` such as model_name and
 * hook_name beside it) and `sae_weights.safetensors` (W_enc, b_enc, W_dec,
 * b_dec, and `threshold` for JumpReLU = exp(log_threshold) and for
 * BatchTopK = its running threshold for every feature, the form SAELens
 * gives JumpReLU thresholds), plus `nnd_state.safetensors`. Each file is
 * written atomically (temporary file + rename); the config goes last, so a
 * folder with a cfg.json has complete weights.
 */
export async function saveSae(
  directory: string,
  sae: SparseAutoencoder<SaeConfig>,
  params: Record<string, HostTensor>,
  state: Record<string, HostTensor>,
  extraMetadata: Record<string, unknown> = {},
): Promise<void> {
  const { config } = sae;
  const shapes = expectedShapes(config);
  const take = (map: Record<string, HostTensor>, name: string, role: string): Float32Array => {
    const tensor = map[name];
    if (tensor === undefined) throw new SaeFileError(`saveSae: ${role} '${name}' is missing; got {${Object.keys(map).join(', ')}}.`);
    return float32Data(tensor, name, shapes[name]);
  };
  const weights: Record<string, SafetensorsTensor> = {};
  for (const name of SAELENS_WEIGHTS) weights[name] = fromTypedArray('F32', shapes[name], take(params, name, 'parameter'));
  if ((config.architecture === 'topk' || config.architecture === 'batchtopk') && !config.encoder_bias) {
    // Our forward pass ignores b_enc here; SAELens would add it, so the file holds the zeros we compute with.
    weights.b_enc = fromTypedArray('F32', [config.dict_size], new Float32Array(config.dict_size));
  }
  if (config.architecture === 'jumprelu') {
    weights.threshold = fromTypedArray('F32', [config.dict_size], take(params, 'log_threshold', 'parameter').map(Math.exp));
  }
  if (config.architecture === 'batchtopk') {
    const threshold = take(state, 'threshold', 'state')[0];
    weights.threshold = fromTypedArray('F32', [config.dict_size], new Float32Array(config.dict_size).fill(threshold));
  }
  const stateTensors: Record<string, SafetensorsTensor> = {};
  for (const name of Object.keys(sae.initialState())) stateTensors[name] = fromTypedArray('F32', shapes[name], take(state, name, 'state'));

  await mkdir(directory, { recursive: true }).catch((cause: unknown) => {
    throw new SaeFileError(`saveSae: cannot create folder ${JSON.stringify(directory)}: ${cause instanceof Error ? cause.message : String(cause)}.`, { cause });
  });
  await writeSafetensors(join(directory, SAE_WEIGHTS_FILE), weights);
  await writeSafetensors(join(directory, SAE_STATE_FILE), stateTensors);
  await writeFileAtomically(join(directory, SAE_CONFIG_FILE), `${JSON.stringify(toSaeLensConfig(config, extraMetadata), null, 2)}\n`);
}

async function readOptional(path: string): Promise<Uint8Array | undefined> {
  try {
    return await readFile(path);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SaeFileError(`cannot read ${JSON.stringify(path)}: ${cause instanceof Error ? cause.message : String(cause)}.`, { cause });
  }
}

async function readRequired(path: string, what: string): Promise<Uint8Array> {
  const bytes = await readOptional(path);
  if (bytes === undefined) throw new SaeFileError(`loadSae: ${what} ${JSON.stringify(path)} does not exist; an SAE folder holds ${SAE_CONFIG_FILE} and ${SAE_WEIGHTS_FILE}.`);
  return bytes;
}

function readTensors(bytes: Uint8Array, path: string): Map<string, HostTensor<'float32'>> {
  const tensors = new Map<string, HostTensor<'float32'>>();
  // `source` puts the file's path into every SafetensorsError about a malformed file.
  for (const [name, tensor] of readSafetensors(bytes, { source: path }).tensors) {
    if (!['F32', 'F64', 'F16', 'BF16'].includes(tensor.dtype)) continue;
    const data = toTypedArray(tensor);
    tensors.set(name, hostTensor('float32', tensor.shape, data instanceof Float32Array ? data : Float32Array.from(data as Float64Array)));
  }
  if (tensors.size === 0) throw new SaeFileError(`loadSae: ${JSON.stringify(path)} holds no float tensors.`);
  return tensors;
}

function pick(tensors: Map<string, HostTensor<'float32'>>, name: string, shape: readonly number[], path: string): HostTensor<'float32'> {
  const tensor = tensors.get(name);
  if (tensor === undefined) throw new SaeFileError(`loadSae: ${JSON.stringify(path)} has no '${name}'; found ${[...tensors.keys()].join(', ')}.`);
  if (!sameShape(tensor.shape, shape)) {
    throw new SaeFileError(`loadSae: '${name}' in ${JSON.stringify(path)} has shape [${tensor.shape.join(', ')}], but cfg.json implies [${shape.join(', ')}].`);
  }
  return tensor;
}

/**
 * Loading succeeds (the file is well formed, and one may want to inspect
 * it), but NaN or infinite parameters make every output NaN, so a Node
 * warning (code NND_NON_FINITE_WEIGHTS; `process.on('warning')`) names them.
 */
function warnAboutNonFinite(params: Record<string, HostTensor>, path: string): void {
  const bad = Object.entries(params).flatMap(([name, tensor]) => {
    const count = (tensor.data as Float32Array).reduce((sum, value) => sum + (Number.isFinite(value) ? 0 : 1), 0);
    return count === 0 ? [] : [`'${name}' (${count} of ${tensor.data.length} values)`];
  });
  if (bad.length > 0) {
    process.emitWarning(`loadSae: ${JSON.stringify(path)} holds NaN or infinite values in ${bad.join(', ')}; the SAE's outputs will not be finite. Load an earlier checkpoint.`, {
      type: 'NndWarning',
      code: 'NND_NON_FINITE_WEIGHTS',
    });
  }
}

/** The single value of a threshold stored per feature (SAELens) or as a scalar. */
function uniformValue(tensor: HostTensor<'float32'>, name: string, path: string): number {
  const first = tensor.data[0];
  if (tensor.data.some((value) => value !== first)) {
    throw new ConfigError(`loadSae: '${name}' in ${JSON.stringify(path)} differs between features, but a BatchTopK SAE has one threshold; load it as architecture 'jumprelu' instead.`);
  }
  return first;
}

/**
 * Turns weights SAELens wrote into ours (see SaeLensConversion), in float64:
 * b_enc absorbs a b_dec subtraction our architecture does not make (or makes
 * and the file does not), then the decoder norms are folded in where SAELens
 * rescaled by them. Tensors that need no change are left as read.
 */
function convertSaeLensWeights(architecture: SaeConfig['architecture'], params: Record<string, HostTensor>, conversion: SaeLensConversion): void {
  const shift = conversion.applyBDecToInput === appliesBDecToInput(architecture) ? 0 : appliesBDecToInput(architecture) ? 1 : -1;
  if (shift === 0 && !conversion.rescaleByDecoderNorm) return;
  const [actSize, dictSize] = params.W_enc.shape as [number, number];
  const wEnc = Float64Array.from(params.W_enc.data as Float32Array);
  const wDec = Float64Array.from(params.W_dec.data as Float32Array);
  const bEnc = Float64Array.from(params.b_enc.data as Float32Array);
  const bDec = params.b_dec.data as Float32Array;
  if (shift !== 0) {
    for (let feature = 0; feature < dictSize; feature++) {
      let product = 0;
      for (let input = 0; input < actSize; input++) product += bDec[input] * wEnc[input * dictSize + feature];
      bEnc[feature] += shift * product;
    }
  }
  if (conversion.rescaleByDecoderNorm) {
    for (let feature = 0; feature < dictSize; feature++) {
      let squares = 0;
      for (let input = 0; input < actSize; input++) squares += wDec[feature * actSize + input] ** 2;
      const norm = Math.sqrt(squares);
      // A zero decoder row decodes nothing whatever its activation; SAELens's division would give NaN.
      if (norm === 0) continue;
      bEnc[feature] *= norm;
      for (let input = 0; input < actSize; input++) {
        wEnc[input * dictSize + feature] *= norm;
        wDec[feature * actSize + input] /= norm;
      }
    }
    params.W_enc = hostTensor('float32', params.W_enc.shape, Float32Array.from(wEnc));
    params.W_dec = hostTensor('float32', params.W_dec.shape, Float32Array.from(wDec));
  }
  params.b_enc = hostTensor('float32', params.b_enc.shape, Float32Array.from(bEnc));
}

/**
 * Loads an SAE folder in SAELens's layout, written by saveSae or by SAELens
 * (whose cfg.json has no metadata.nnd: d_in, d_sae, architecture, k and
 * normalize_activations are mapped to our config, the rest defaults; the
 * weights are converted so that our forward pass gives SAELens's outputs:
 * see convertSaeLensWeights; TopK and BatchTopK get `encoder_bias` when
 * b_enc is non-zero). For JumpReLU, log_threshold = log(threshold). State comes from
 * nnd_state.safetensors when present, otherwise it starts fresh (BatchTopK
 * takes its threshold from the weights file).
 */
export async function loadSae(directory: string): Promise<LoadedSae> {
  const configPath = join(directory, SAE_CONFIG_FILE);
  const configText = new TextDecoder().decode(await readRequired(configPath, 'config'));
  let cfg: unknown;
  try {
    cfg = JSON.parse(configText);
  } catch (cause) {
    throw new SaeFileError(`loadSae: ${JSON.stringify(configPath)} is not valid JSON: ${cause instanceof Error ? cause.message : String(cause)}.`, { cause });
  }
  const reading = readSaeLensConfig(cfg, `loadSae ${JSON.stringify(configPath)}`);
  const shapes = expectedShapes(reading.kind === 'nnd' ? reading.config : (reading.raw as Pick<SaeConfig, 'architecture' | 'act_size' | 'dict_size'>));
  const architecture = reading.kind === 'nnd' ? reading.config.architecture : (reading.raw.architecture as SaeConfig['architecture']);
  const topK = architecture === 'topk' || architecture === 'batchtopk';

  const weightsPath = join(directory, SAE_WEIGHTS_FILE);
  const weights = readTensors(await readRequired(weightsPath, 'weights'), weightsPath);
  const params: Record<string, HostTensor> = {};
  for (const name of SAELENS_WEIGHTS) params[name] = pick(weights, name, shapes[name], weightsPath);
  if (architecture === 'jumprelu') {
    params.log_threshold = weights.has('threshold')
      ? hostTensor('float32', shapes.log_threshold, pick(weights, 'threshold', shapes.log_threshold, weightsPath).data.map(Math.log))
      : pick(weights, 'log_threshold', shapes.log_threshold, weightsPath);
  }
  // What the file holds, before any conversion spreads a bad value into other tensors.
  warnAboutNonFinite(params, weightsPath);
  let config: SaeConfig;
  if (reading.kind === 'nnd') {
    config = reading.config;
    if ((config.architecture === 'topk' || config.architecture === 'batchtopk') && !config.encoder_bias && params.b_enc.data.some((value) => value !== 0)) {
      throw new ConfigError(
        `loadSae: ${JSON.stringify(weightsPath)} has a non-zero b_enc, but its config has encoder_bias = false; the file's SAE would encode differently (set metadata.nnd.encoder_bias to true to use b_enc).`,
      );
    }
  } else {
    convertSaeLensWeights(architecture, params, reading.conversion);
    // SAELens's TopK always has an encoder bias; ours adds one only where it is used.
    config = createSae(topK ? { ...reading.raw, encoder_bias: params.b_enc.data.some((value) => value !== 0) } : reading.raw).config;
  }
  const sae = createSae(config);

  const state = sae.initialState();
  const statePath = join(directory, SAE_STATE_FILE);
  const stateBytes = await readOptional(statePath);
  if (stateBytes !== undefined) {
    const saved = readTensors(stateBytes, statePath);
    for (const name of Object.keys(state)) state[name] = pick(saved, name, shapes[name], statePath);
  } else if (config.architecture === 'batchtopk') {
    const name = weights.has('threshold') ? 'threshold' : 'topk_threshold';
    const stored = weights.get(name);
    if (stored !== undefined) state.threshold = hostTensor('float32', [], [uniformValue(stored, name, weightsPath)]);
  }

  return { sae, params, state, metadata: saeLensMetadata(cfg) };
}
