import { readFileSync } from 'node:fs';
import { hostTensor, readSafetensors, toTypedArray, type HostTensor } from '@nnd/core';

/** Test helpers (not exported from the package). */

export const FIXTURES = new URL('../fixtures/reference-steps/', import.meta.url);

export interface ReferenceCase {
  readonly json: {
    config: Record<string, any>;
    parameters: string[];
    steps: Record<string, any>[];
  };
  readonly tensors: Record<string, HostTensor>;
}

export function loadCase(name: string): ReferenceCase {
  const json = JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8'));
  const tensors: Record<string, HostTensor> = {};
  for (const [key, tensor] of readSafetensors(readFileSync(new URL(`${name}.safetensors`, FIXTURES))).tensors) {
    tensors[key] = hostTensor('float32', tensor.shape, toTypedArray(tensor) as Float32Array);
  }
  return { json, tensors };
}

/** The tensors whose names start with `prefix.`, without the prefix. */
export function withPrefix(tensors: Record<string, HostTensor>, prefix: string): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const [name, tensor] of Object.entries(tensors)) if (name.startsWith(`${prefix}.`)) out[name.slice(prefix.length + 1)] = tensor;
  return out;
}

/** Largest |a - b| over the elements, divided by the largest |b| (the tensor's scale). */
export function relativeError(actual: HostTensor, expected: HostTensor): number {
  const a = actual.data as Float32Array;
  const b = expected.data as Float32Array;
  if (a.length !== b.length) return Infinity;
  let scale = 1e-12;
  for (const value of b) scale = Math.max(scale, Math.abs(value));
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst / scale;
}

/** A source of the given batches keyed by hook, one Float32Array per stream. */
export function batchesSource(batches: readonly Record<string, Float32Array>[]) {
  let position = 0;
  return {
    async nextBatch() {
      return batches[position++ % batches.length];
    },
  };
}
