import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromTypedArray, hostTensor, NndError, readSafetensors, toTypedArray, writeFileDurably, writeSafetensors, type HostTensor, type SafetensorsTensor } from '@nnd/core';
import { MoltFileError } from './molt-file-error.js';
import { createMolt, type Molt } from './molt.js';
import { parseMoltConfig } from './molt-config.js';

export const MOLT_CONFIG_FILE = 'cfg.json';
/** W_E [d_in, transforms], b_E [transforms], U.{rank} [count, rank, d_out], V.{rank} [count, d_in, rank], b_D [d_out] (+ log_threshold for JumpReLU gates). */
export const MOLT_WEIGHTS_FILE = 'molt.safetensors';
/** Non-trained state (dead-transform counters, the step counter of lambda's warm-up), apart from the weights. */
export const MOLT_STATE_FILE = 'nnd_state.safetensors';

export interface LoadedMolt {
  molt: Molt;
  params: Record<string, HostTensor>;
  state: Record<string, HostTensor>;
  /** What the config recorded beside the MOLT's own keys (model_name, dataset, ...). */
  metadata: Record<string, unknown>;
}

function float32(tensor: HostTensor | undefined, name: string, expected: readonly number[]): Float32Array {
  if (tensor === undefined) throw new MoltFileError(`saveMolt: '${name}' is missing; the MOLT has [${expected.join(', ')}] there.`);
  if (tensor.shape.length !== expected.length || tensor.shape.some((dim, i) => dim !== expected[i])) {
    throw new MoltFileError(`saveMolt: '${name}' has shape [${tensor.shape.join(', ')}], but the config needs [${expected.join(', ')}].`);
  }
  return tensor.data instanceof Float32Array ? tensor.data : Float32Array.from(tensor.data as ArrayLike<number>);
}

/**
 * Writes `cfg.json` (the MOLT's config, rank_counts and hooks included, with
 * `metadata` beside it), `molt.safetensors` and `nnd_state.safetensors`.
 */
export async function saveMolt(directory: string, molt: Molt, params: Record<string, HostTensor>, state: Record<string, HostTensor>, metadata: Record<string, unknown> = {}): Promise<void> {
  const weights: Record<string, SafetensorsTensor> = {};
  for (const [name, shape] of Object.entries(molt.parameterShapes())) weights[name] = fromTypedArray('F32', shape, float32(params[name], name, shape));
  const stateTensors: Record<string, SafetensorsTensor> = {};
  for (const [name, tensor] of Object.entries(molt.initialState())) stateTensors[name] = fromTypedArray('F32', tensor.shape, float32(state[name], name, tensor.shape));
  try {
    await mkdir(directory, { recursive: true });
    await writeSafetensors(join(directory, MOLT_WEIGHTS_FILE), weights);
    await writeSafetensors(join(directory, MOLT_STATE_FILE), stateTensors);
    await writeFileDurably(join(directory, MOLT_CONFIG_FILE), `${JSON.stringify({ ...molt.config, metadata }, null, 2)}\n`);
  } catch (cause) {
    if (NndError.isInstance(cause)) throw cause;
    throw new MoltFileError(`saveMolt: cannot write ${JSON.stringify(directory)}: ${cause instanceof Error ? cause.message : String(cause)}; check that the folder is writable.`, { cause });
  }
}

async function readTensors(path: string, required: boolean): Promise<Map<string, HostTensor>> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    if (!required) return new Map();
    throw new MoltFileError(
      `loadMolt: cannot read ${JSON.stringify(path)}: ${cause instanceof Error ? cause.message : String(cause)}; a MOLT folder holds ${MOLT_CONFIG_FILE} and ${MOLT_WEIGHTS_FILE}.`,
      { cause },
    );
  }
  const tensors = new Map<string, HostTensor>();
  for (const [name, tensor] of readSafetensors(bytes, { source: path }).tensors) {
    tensors.set(name, hostTensor('float32', tensor.shape, Float32Array.from(toTypedArray(tensor) as ArrayLike<number>)));
  }
  return tensors;
}

/** Reads a folder written by `saveMolt`, checking every tensor against the config. */
export async function loadMolt(directory: string): Promise<LoadedMolt> {
  const configPath = join(directory, MOLT_CONFIG_FILE);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
  } catch (cause) {
    throw new MoltFileError(`loadMolt: cannot read ${JSON.stringify(configPath)} as JSON: ${cause instanceof Error ? cause.message : String(cause)}.`, { cause });
  }
  const { metadata = {}, ...config } = raw;
  const molt = createMolt(parseMoltConfig(config));
  const weights = await readTensors(join(directory, MOLT_WEIGHTS_FILE), true);
  const saved = await readTensors(join(directory, MOLT_STATE_FILE), false);
  const take = (source: Map<string, HostTensor>, expected: Record<string, { shape: readonly number[] }>, file: string, fallback: boolean) => {
    const result: Record<string, HostTensor> = {};
    for (const [name, initial] of Object.entries(expected)) {
      const tensor = source.get(name);
      if (tensor === undefined) {
        // A folder without its state file (weights from elsewhere) starts from fresh counters.
        if (fallback) {
          result[name] = initial as HostTensor;
          continue;
        }
        throw new MoltFileError(
          `loadMolt: ${file} has no '${name}'; this MOLT (rank_counts ${JSON.stringify(molt.config.rank_counts)}, gate ${molt.config.gate}) needs ${[...Object.keys(expected)].join(', ')}.`,
        );
      }
      if (tensor.shape.length !== initial.shape.length || tensor.shape.some((dim, i) => dim !== initial.shape[i])) {
        throw new MoltFileError(`loadMolt: '${name}' in ${file} has shape [${tensor.shape.join(', ')}], but ${MOLT_CONFIG_FILE} implies [${initial.shape.join(', ')}].`);
      }
      result[name] = tensor;
    }
    return result;
  };
  return {
    molt,
    params: take(weights, Object.fromEntries(Object.entries(molt.parameterShapes()).map(([name, shape]) => [name, { shape }])), MOLT_WEIGHTS_FILE, false),
    state: take(saved, molt.initialState(), MOLT_STATE_FILE, true),
    metadata: metadata as Record<string, unknown>,
  };
}
