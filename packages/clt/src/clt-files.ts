import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, fromTypedArray, hostTensor, NndError, readSafetensors, toTypedArray, writeFileDurably, writeSafetensors, type HostTensor, type SafetensorsTensor } from '@nnd/core';
import type { CltConfig } from './clt-config.js';
import { cltParameterShapes, decoderName } from './clt-parameters.js';
import { createClt, type CrossLayerTranscoder } from './cross-layer-transcoder.js';

/** Thrown when a CLT folder cannot be written or read (missing file, bad JSON, missing or misshapen tensor). */
export class CltFileError extends NndError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'nnd.clt-file', ...options });
  }
}

/** nnd's config (and the metadata given to saveClt); circuit-tracer ignores it. */
export const CLT_CONFIG_FILE = 'cfg.json';
/**
 * What circuit-tracer's files cannot hold exactly: the dead-feature counters
 * and JumpReLU's log-thresholds as trained (exp then log is not exact in float32).
 */
export const CLT_STATE_FILE = 'nnd_state.safetensors';
const FORMAT = 'nnd-clt';

/** circuit-tracer's hooks (`load_clt` defaults), used for folders without our cfg.json. */
export const CIRCUIT_TRACER_HOOK_TEMPLATE_IN = 'blocks.{layer}.hook_resid_mid';
export const CIRCUIT_TRACER_HOOK_TEMPLATE_OUT = 'blocks.{layer}.hook_mlp_out';

export interface LoadedClt {
  clt: CrossLayerTranscoder;
  params: Record<string, HostTensor>;
  state: Record<string, HostTensor>;
  /** cfg.json's `metadata` (model_name, ...), or {} for a circuit-tracer folder. */
  metadata: Record<string, unknown>;
}

/** How to read a folder circuit-tracer wrote (no cfg.json): its layers and hooks. */
export interface CircuitTracerLoadOptions {
  /** The model layers of W_enc_0, W_enc_1, ...; default 0..n-1 (circuit-tracer's CLTs cover every layer). */
  layers?: number[];
  hook_template_in?: string;
  hook_template_out?: string;
}

const encoderFile = (i: number) => `W_enc_${i}.safetensors`;
const decoderFile = (i: number) => `W_dec_${i}.safetensors`;

function float32(tensor: HostTensor, name: string, shape: readonly number[]): Float32Array {
  if (tensor === undefined) throw new CltFileError(`saveClt: '${name}' is missing.`);
  if (tensor.dtype !== 'float32' && tensor.dtype !== 'float64') throw new CltFileError(`saveClt: '${name}' has dtype ${tensor.dtype}; CLT tensors are float32.`);
  if (tensor.shape.length !== shape.length || tensor.shape.some((dim, i) => dim !== shape[i])) {
    throw new CltFileError(`saveClt: '${name}' has shape [${tensor.shape.join(', ')}], but the config needs [${shape.join(', ')}].`);
  }
  return tensor.data instanceof Float32Array ? tensor.data : Float32Array.from(tensor.data as Float64Array);
}

/** [rows, columns] -> [columns, rows]. */
function transposed(data: ArrayLike<number>, rows: number, columns: number): Float32Array {
  const out = new Float32Array(rows * columns);
  for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) out[c * rows + r] = data[r * columns + c];
  return out;
}

/**
 * Saves a CLT in circuit-tracer's layout (`transcoder/cross_layer_transcoder.py`
 * `save_to_safetensors` / `load_clt`), so that `load_clt(directory)` reads
 * it, plus our config and state:
 *
 * - `W_enc_{i}.safetensors`: `W_enc_{i}` [F, d_in] (circuit-tracer's
 *   orientation; ours is [d_in, F]), `b_enc_{i}` [F], `b_dec_{i}` [d_out],
 *   and for JumpReLU `threshold_{i}` [F] = exp(log_threshold);
 * - `W_dec_{i}.safetensors`: `W_dec_{i}` [F, n - i, d_out];
 * - `nnd_state.safetensors`: counters and exact log-thresholds;
 * - `cfg.json` (last, so a folder with one is complete): our config and `metadata`.
 *
 * i is the position in `layers`. circuit-tracer has ReLU and JumpReLU
 * activations only: it reads a TopK or BatchTopK CLT as a ReLU one (every
 * positive pre-activation kept), and it assumes d_in = d_out and layers
 * 0..n-1. Each file is written atomically.
 */
export async function saveClt(
  directory: string,
  clt: CrossLayerTranscoder,
  params: Record<string, HostTensor>,
  state: Record<string, HostTensor>,
  metadata: Record<string, unknown> = {},
): Promise<void> {
  const { config } = clt;
  const n = config.layers.length;
  const { dict_size: features, input_size: dIn, output_size: dOut } = config;
  const shapes = cltParameterShapes(config);
  await mkdir(directory, { recursive: true }).catch((cause: unknown) => {
    throw new CltFileError(`saveClt: cannot create folder ${JSON.stringify(directory)}: ${cause instanceof Error ? cause.message : String(cause)}.`, { cause });
  });
  const stateTensors: Record<string, SafetensorsTensor> = {};
  for (let i = 0; i < n; i++) {
    const encoder: Record<string, SafetensorsTensor> = {
      [`W_enc_${i}`]: fromTypedArray('F32', [features, dIn], transposed(float32(params[`W_enc_${i}`], `W_enc_${i}`, shapes[`W_enc_${i}`]), dIn, features)),
      [`b_enc_${i}`]: fromTypedArray('F32', [features], float32(params[`b_enc_${i}`], `b_enc_${i}`, [features])),
      [`b_dec_${i}`]: fromTypedArray('F32', [dOut], float32(params[`b_dec_${i}`], `b_dec_${i}`, [dOut])),
    };
    if (config.encoder_type === 'jumprelu') {
      const logThreshold = float32(params[`log_threshold_${i}`], `log_threshold_${i}`, [features]);
      encoder[`threshold_${i}`] = fromTypedArray('F32', [features], logThreshold.map(Math.exp));
      stateTensors[`log_threshold_${i}`] = fromTypedArray('F32', [features], logThreshold);
    }
    stateTensors[`num_batches_not_active_${i}`] = fromTypedArray('F32', [features], float32(state[`num_batches_not_active_${i}`], `num_batches_not_active_${i}`, [features]));
    await writeSafetensors(join(directory, encoderFile(i)), encoder);
    await writeSafetensors(join(directory, decoderFile(i)), {
      [decoderName(i)]: fromTypedArray('F32', shapes[decoderName(i)], float32(params[decoderName(i)], decoderName(i), shapes[decoderName(i)])),
    });
  }
  await writeSafetensors(join(directory, CLT_STATE_FILE), stateTensors);
  const cfg = { format: FORMAT, architecture: config.architecture, config, metadata };
  try {
    await writeFileDurably(join(directory, CLT_CONFIG_FILE), `${JSON.stringify(cfg, null, 2)}\n`);
  } catch (cause) {
    throw new CltFileError(`saveClt: cannot write ${JSON.stringify(join(directory, CLT_CONFIG_FILE))}: ${cause instanceof Error ? cause.message : String(cause)}.`, { cause });
  }
}

async function readOptional(path: string): Promise<Uint8Array | undefined> {
  try {
    return await readFile(path);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CltFileError(`loadClt: cannot read ${JSON.stringify(path)}: ${cause instanceof Error ? cause.message : String(cause)}.`, { cause });
  }
}

async function readTensors(path: string): Promise<Map<string, HostTensor<'float32'>>> {
  const bytes = await readOptional(path);
  if (bytes === undefined) throw new CltFileError(`loadClt: ${JSON.stringify(path)} does not exist; a CLT folder holds W_enc_{i}.safetensors and W_dec_{i}.safetensors for every layer.`);
  const tensors = new Map<string, HostTensor<'float32'>>();
  for (const [name, tensor] of readSafetensors(bytes).tensors) {
    if (!['F32', 'F64', 'F16', 'BF16'].includes(tensor.dtype)) continue;
    const data = toTypedArray(tensor);
    tensors.set(name, hostTensor('float32', tensor.shape, data instanceof Float32Array ? data : Float32Array.from(data as Float64Array)));
  }
  return tensors;
}

function pick(tensors: Map<string, HostTensor<'float32'>>, name: string, shape: readonly number[], path: string): HostTensor<'float32'> {
  const tensor = tensors.get(name);
  if (tensor === undefined) throw new CltFileError(`loadClt: ${JSON.stringify(path)} has no '${name}'; found ${[...tensors.keys()].join(', ') || 'no float tensors'}.`);
  if (tensor.shape.length !== shape.length || tensor.shape.some((dim, i) => dim !== shape[i])) {
    throw new CltFileError(`loadClt: '${name}' in ${JSON.stringify(path)} has shape [${tensor.shape.join(', ')}], but the config implies [${shape.join(', ')}].`);
  }
  return tensor;
}

/** The config of a folder circuit-tracer wrote: sizes from W_enc_0, JumpReLU when it has thresholds, else ReLU (vanilla). */
async function circuitTracerConfig(directory: string, options: CircuitTracerLoadOptions): Promise<unknown> {
  const names = await readdir(directory).catch((cause: unknown) => {
    throw new CltFileError(`loadClt: cannot read folder ${JSON.stringify(directory)}: ${cause instanceof Error ? cause.message : String(cause)}.`, { cause });
  });
  const n = names.filter((name) => /^W_enc_\d+\.safetensors$/.test(name)).length;
  if (n === 0) throw new CltFileError(`loadClt: ${JSON.stringify(directory)} has neither ${CLT_CONFIG_FILE} nor W_enc_0.safetensors; it is not a CLT folder.`);
  const path = join(directory, encoderFile(0));
  const first = await readTensors(path);
  const wEnc = first.get('W_enc_0');
  const bDec = first.get('b_dec_0');
  if (wEnc === undefined || wEnc.shape.length !== 2 || bDec === undefined || bDec.shape.length !== 1) {
    throw new CltFileError(`loadClt: ${JSON.stringify(path)} needs W_enc_0 [F, d_model] and b_dec_0 [d_model] (circuit-tracer's layout).`);
  }
  if (first.has('W_skip_0')) {
    throw new ConfigError(`loadClt: ${JSON.stringify(path)} has a skip connection (W_skip_0), which nnd's CLTs do not have; the folder's CLT would reconstruct differently.`);
  }
  const layers = options.layers ?? Array.from({ length: n }, (_, i) => i);
  if (layers.length !== n) throw new ConfigError(`loadClt: options.layers lists ${layers.length} layers, but ${JSON.stringify(directory)} has ${n} encoder files.`);
  return {
    encoder_type: first.has('threshold_0') ? 'jumprelu' : 'vanilla',
    layers,
    dict_size: wEnc.shape[0],
    input_size: wEnc.shape[1],
    output_size: bDec.shape[0],
    hook_template_in: options.hook_template_in ?? CIRCUIT_TRACER_HOOK_TEMPLATE_IN,
    hook_template_out: options.hook_template_out ?? CIRCUIT_TRACER_HOOK_TEMPLATE_OUT,
  };
}

/**
 * Loads a CLT folder written by saveClt, or by circuit-tracer (no cfg.json:
 * ReLU or JumpReLU by the presence of thresholds, layers 0..n-1 and
 * circuit-tracer's hooks unless `options` say otherwise). Weights in
 * F16/BF16/F64 become float32. State comes from nnd_state.safetensors when
 * present, else it starts fresh; JumpReLU's log_threshold is read exactly
 * from there, else log(threshold).
 */
export async function loadClt(directory: string, options: CircuitTracerLoadOptions = {}): Promise<LoadedClt> {
  const configPath = join(directory, CLT_CONFIG_FILE);
  const configBytes = await readOptional(configPath);
  let config: unknown;
  let metadata: Record<string, unknown> = {};
  if (configBytes === undefined) {
    config = await circuitTracerConfig(directory, options);
  } else {
    let cfg: Record<string, unknown>;
    try {
      cfg = JSON.parse(new TextDecoder().decode(configBytes));
    } catch (cause) {
      throw new CltFileError(`loadClt: ${JSON.stringify(configPath)} is not valid JSON: ${cause instanceof Error ? cause.message : String(cause)}.`, { cause });
    }
    if (cfg?.format !== FORMAT || typeof cfg.config !== 'object') {
      throw new CltFileError(`loadClt: ${JSON.stringify(configPath)} is not an nnd CLT config (format '${FORMAT}' with a config object); remove it to read the folder as circuit-tracer's.`);
    }
    config = cfg.config;
    metadata = typeof cfg.metadata === 'object' && cfg.metadata !== null ? (cfg.metadata as Record<string, unknown>) : {};
  }
  const clt = createClt(config);
  const parsed: CltConfig = clt.config;
  const n = parsed.layers.length;
  const { dict_size: features, input_size: dIn, output_size: dOut } = parsed;
  const shapes = cltParameterShapes(parsed);
  const statePath = join(directory, CLT_STATE_FILE);
  const saved = (await readOptional(statePath)) === undefined ? undefined : await readTensors(statePath);
  const params: Record<string, HostTensor> = {};
  const state = clt.initialState();
  for (let i = 0; i < n; i++) {
    const path = join(directory, encoderFile(i));
    const encoder = await readTensors(path);
    if (encoder.has(`W_skip_${i}`)) throw new ConfigError(`loadClt: ${JSON.stringify(path)} has a skip connection (W_skip_${i}), which nnd's CLTs do not have.`);
    params[`W_enc_${i}`] = hostTensor('float32', shapes[`W_enc_${i}`], transposed(pick(encoder, `W_enc_${i}`, [features, dIn], path).data, features, dIn));
    params[`b_enc_${i}`] = pick(encoder, `b_enc_${i}`, [features], path);
    params[`b_dec_${i}`] = pick(encoder, `b_dec_${i}`, [dOut], path);
    if (parsed.encoder_type === 'jumprelu') {
      const exact = saved?.get(`log_threshold_${i}`);
      if (exact !== undefined) {
        params[`log_threshold_${i}`] = pick(saved!, `log_threshold_${i}`, [features], statePath);
      } else {
        const threshold = pick(encoder, `threshold_${i}`, [features], path).data;
        if (threshold.some((value) => !(value > 0))) {
          throw new ConfigError(`loadClt: threshold_${i} in ${JSON.stringify(path)} has values <= 0; nnd's JumpReLU keeps positive thresholds (exp of a log-threshold) after a ReLU.`);
        }
        params[`log_threshold_${i}`] = hostTensor('float32', [features], threshold.map(Math.log));
      }
    }
    const decoderPath = join(directory, decoderFile(i));
    params[decoderName(i)] = pick(await readTensors(decoderPath), decoderName(i), shapes[decoderName(i)], decoderPath);
    if (saved !== undefined) state[`num_batches_not_active_${i}`] = pick(saved, `num_batches_not_active_${i}`, [features], statePath);
  }
  return { clt, params, state, metadata };
}
