import { join } from 'node:path';
import { ConfigError, hostTensor, type HostTensor } from '@nnd/core';
import { floatTensors, pickTensor, readJson, readRequired } from './tensor-files.js';
import type { TopKTranscoderConfig } from './transcoder-config.js';
import { TranscoderFileError } from './transcoder-file-error.js';
import { createTranscoder } from './transcoder-registry.js';
import type { Transcoder } from './transcoder.js';

export const SPARSIFY_CONFIG_FILE = 'cfg.json';
export const SPARSIFY_WEIGHTS_FILE = 'sae.safetensors';

const LAYOUT = `a sparsify hookpoint folder holds ${SPARSIFY_CONFIG_FILE} and ${SPARSIFY_WEIGHTS_FILE}`;

export interface LoadedSparsifyTranscoder {
  transcoder: Transcoder<TopKTranscoderConfig>;
  params: Record<string, HostTensor>;
  state: Record<string, HostTensor>;
  /** sparsify's cfg.json as written (activation, k, num_latents, skip_connection, transcode, d_in, ...). */
  metadata: Record<string, unknown>;
}

export interface SparsifyLoadOptions {
  /** The hooks the transcoder reads and writes; default 'input' and 'target'. */
  readonly hook_point?: string;
  readonly hook_point_out?: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function transposed(tensor: HostTensor<'float32'>): HostTensor<'float32'> {
  const [rows, columns] = tensor.shape;
  const out = new Float32Array(rows * columns);
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) out[column * rows + row] = tensor.data[row * columns + column];
  }
  return hostTensor('float32', [columns, rows], out);
}

/**
 * Loads one hookpoint folder of an EleutherAI sparsify transcoder
 * (`SparseCoder.save_to_disk` with `transcode: true`, activation 'topk'):
 * `sae.safetensors` holds encoder.weight [F, d_in], encoder.bias [F], W_dec
 * [F, d_out], b_dec [d_out] and, with skip_connection, W_skip [d_out, d_in].
 * sparsify's encoder is relu(x W^T + b) with the top k kept and no b_dec
 * subtraction, which is nnd's topk_transcoder; W_enc = encoder.weight^T.
 * sparsify does not keep decoder rows at unit norm for transcoders; the
 * weights are loaded as they are (training on would renormalise them).
 */
export async function loadSparsifyTranscoder(directory: string, options: SparsifyLoadOptions = {}): Promise<LoadedSparsifyTranscoder> {
  const configPath = join(directory, SPARSIFY_CONFIG_FILE);
  const where = `loadSparsifyTranscoder ${JSON.stringify(configPath)}`;
  const cfg = await readJson(configPath, LAYOUT);
  if (!isRecord(cfg)) throw new ConfigError(`${where}: cfg.json must hold a JSON object.`);
  if (cfg.transcode !== true) {
    throw new ConfigError(`${where}: transcode = ${JSON.stringify(cfg.transcode)}, so this is a sparsify SAE, not a transcoder; only folders written with transcode: true load here.`);
  }
  const activation = cfg.activation ?? 'topk';
  if (activation !== 'topk') throw new ConfigError(`${where}: activation = ${JSON.stringify(activation)} is not supported; allowed: 'topk'.`);
  const k = cfg.k;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) throw new ConfigError(`${where}: k = ${JSON.stringify(k)} is invalid; allowed: an integer >= 1.`);

  const weightsPath = join(directory, SPARSIFY_WEIGHTS_FILE);
  const weights = floatTensors(await readRequired(weightsPath, `${where}: weights`, LAYOUT), weightsPath);
  const encoder = weights.get('encoder.weight');
  const decoder = weights.get('W_dec');
  if (encoder === undefined || encoder.shape.length !== 2 || decoder === undefined || decoder.shape.length !== 2) {
    throw new TranscoderFileError(
      `${where}: ${JSON.stringify(weightsPath)} needs 2-D 'encoder.weight' [F, d_in] and 'W_dec' [F, d_out]; found ${[...weights].map(([name, t]) => `${name} [${t.shape.join(', ')}]`).join(', ')}.`,
    );
  }
  const [features, inputSize] = encoder.shape;
  const outputSize = decoder.shape[1];
  if (cfg.d_in !== undefined && cfg.d_in !== inputSize) {
    throw new TranscoderFileError(
      `${where}: cfg.json's d_in = ${JSON.stringify(cfg.d_in)} disagrees with encoder.weight [${encoder.shape.join(', ')}] (d_in ${inputSize}); the folder's files do not belong together.`,
    );
  }
  const skip = weights.has('W_skip');
  if (cfg.skip_connection === true && !skip) {
    throw new TranscoderFileError(`${where}: cfg.json has skip_connection: true, but ${JSON.stringify(weightsPath)} has no 'W_skip'; the folder's files do not belong together.`);
  }
  const transcoder = createTranscoder({
    architecture: 'topk_transcoder',
    input_size: inputSize,
    output_size: outputSize,
    dict_size: features,
    top_k: k,
    skip,
    ...options,
  }) as Transcoder<TopKTranscoderConfig>;
  const implied = `encoder.weight [${features}, ${inputSize}] and W_dec [${features}, ${outputSize}]`;
  const params: Record<string, HostTensor> = {
    b_dec: pickTensor(weights, 'b_dec', [outputSize], weightsPath, implied),
    b_enc: pickTensor(weights, 'encoder.bias', [features], weightsPath, implied),
    W_enc: transposed(encoder),
    W_dec: decoder,
  };
  if (skip) params.W_skip = pickTensor(weights, 'W_skip', [outputSize, inputSize], weightsPath, implied);
  return { transcoder, params, state: transcoder.initialState(), metadata: cfg };
}
