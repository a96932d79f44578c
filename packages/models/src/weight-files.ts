import { ConfigError, SafetensorsError, openSafetensors, toTypedArray, type SafetensorsFile } from '@nnd/core';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FloatTensor } from './host-tensors.js';

/** Tensors of a checkpoint by their Hugging Face names, read lazily and widened to float32. */
export interface WeightReader {
  names(): string[];
  has(name: string): boolean;
  /** The tensor as float32 (F16, BF16 and F64 converted); a SafetensorsError names a missing tensor and the file(s). */
  read(name: string): Promise<FloatTensor>;
  close(): Promise<void>;
}

export const SINGLE_FILE = 'model.safetensors';
export const SHARD_INDEX = 'model.safetensors.index.json';

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Shard file names a `model.safetensors.index.json` refers to, by tensor name. */
export async function readShardIndex(path: string): Promise<Map<string, string>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new SafetensorsError(`Cannot read the shard index ${JSON.stringify(path)}: ${(cause as Error).message}`, { cause });
  }
  const weightMap = (parsed as { weight_map?: unknown }).weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Object.values(weightMap).some((file) => typeof file !== 'string' || file.includes('/') || file.includes('\\'))) {
    throw new SafetensorsError(`Shard index ${JSON.stringify(path)} has no valid "weight_map" of tensor name to file name in the same directory.`);
  }
  return new Map(Object.entries(weightMap as Record<string, string>));
}

/**
 * Opens the weights in a directory: `model.safetensors`, or the shards listed
 * by `model.safetensors.index.json`. Only headers are read up front.
 */
export async function openWeights(directory: string): Promise<WeightReader> {
  const single = join(directory, SINGLE_FILE);
  const index = join(directory, SHARD_INDEX);
  let owners: Map<string, SafetensorsFile>;
  const files: SafetensorsFile[] = [];
  if (await exists(single)) {
    const file = await openSafetensors(single);
    files.push(file);
    owners = new Map(file.names().map((name) => [name, file]));
  } else if (await exists(index)) {
    const weightMap = await readShardIndex(index);
    const opened = new Map<string, SafetensorsFile>();
    try {
      for (const shard of new Set(weightMap.values())) {
        const file = await openSafetensors(join(directory, shard));
        opened.set(shard, file);
        files.push(file);
      }
    } catch (error) {
      await Promise.all(files.map((file) => file.close()));
      throw error;
    }
    owners = new Map([...weightMap].map(([name, shard]) => [name, opened.get(shard)!]));
  } else {
    throw new ConfigError(`No weights in ${JSON.stringify(directory)}: expected ${SINGLE_FILE} or ${SHARD_INDEX} (PyTorch .bin checkpoints are not read; convert them to safetensors).`);
  }
  const source = files.map((file) => file.path).join(', ');
  return {
    names: () => [...owners.keys()],
    has: (name) => owners.has(name),
    async read(name) {
      const file = owners.get(name);
      if (!file) throw new SafetensorsError(`Checkpoint ${source} has no tensor '${name}'; is config.json's model_type right for these weights?`);
      const tensor = await file.read(name);
      const data = toTypedArray(tensor);
      if (!(data instanceof Float32Array || data instanceof Float64Array)) {
        throw new SafetensorsError(`Tensor '${name}' in ${file.path} has dtype ${tensor.dtype}; weights must be F32, F16, BF16 or F64.`);
      }
      return { dtype: 'float32', shape: tensor.shape, data: data instanceof Float32Array ? data : Float32Array.from(data) };
    },
    async close() {
      await Promise.all(files.map((file) => file.close()));
    },
  };
}
