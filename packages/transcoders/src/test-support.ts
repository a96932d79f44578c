import { readFileSync } from 'node:fs';
import { hostTensor, readSafetensors, toTypedArray, type HostTensor } from '@nnd/core';

/** Test helpers (not exported from the package). */

/** Every float tensor of a safetensors file, as float32 host tensors. */
export function readTensorFile(path: string): Map<string, HostTensor<'float32'>> {
  const tensors = new Map<string, HostTensor<'float32'>>();
  for (const [name, tensor] of readSafetensors(readFileSync(path)).tensors) {
    const data = toTypedArray(tensor);
    tensors.set(name, hostTensor('float32', tensor.shape, data instanceof Float32Array ? data : Float32Array.from(data as Float64Array)));
  }
  return tensors;
}

/** Largest |a - b| over the elements, relative to the largest |b| (the tensor's scale). */
export function relativeError(actual: HostTensor, expected: HostTensor): number {
  if (actual.data.length !== expected.data.length) return Infinity;
  const b = expected.data as Float32Array;
  const a = actual.data as Float32Array;
  let scale = 1e-12;
  for (const value of b) scale = Math.max(scale, Math.abs(value));
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / scale);
  return worst;
}
