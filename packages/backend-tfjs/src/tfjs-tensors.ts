import type { HostTensor } from '@nnd/core';
import { tfjsDType, toTfjsData } from './tfjs-dtype.js';
import type { TfTensor, Tfjs } from './tfjs-runtime.js';

/**
 * A tfjs tensor holding a host tensor (int64 narrowed to int32 after a range
 * check). On the cpu runtime tfjs keeps the given array itself, as
 * backend-onnx's CPU upload does; wasm and TensorFlow copy it.
 */
export function fromHostTensor(tf: Tfjs, tensor: HostTensor, where: string): TfTensor {
  return tf.tensor(toTfjsData(tensor, where), [...tensor.shape], tfjsDType(tensor.dtype, where));
}

/** A host tensor's values as numbers, for kernels that read small inputs (k, Range bounds) on the host. */
export function hostNumbers(tensor: HostTensor): number[] {
  return Array.from(tensor.data as ArrayLike<number | bigint>, Number);
}
