import { DTypeError, allocate, formatShape, type DType, type HostData, type HostTensor } from '@nnd/core';

/** The element types tfjs has. It has no 64-bit types at all. */
export type TfjsDType = 'float32' | 'int32' | 'bool';

/** IR dtypes this backend runs: int64 is held as int32 (range-checked at the boundary), float64 is rejected. */
export const TFJS_SUPPORTED_DTYPES: readonly DType[] = ['float32', 'int64', 'bool'];

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

export function tfjsDType(dtype: DType, where: string): TfjsDType {
  switch (dtype) {
    case 'float32':
      return 'float32';
    case 'int64':
      return 'int32';
    case 'bool':
      return 'bool';
    default:
      throw new DTypeError(
        `${where}: the tfjs backend cannot hold ${dtype} tensors (TensorFlow.js has no float64). ` + 'Build the graph in float32, or run float64 graphs on backend-onnx or the reference interpreter.',
      );
  }
}

/**
 * A host tensor's data as tfjs wants it. int64 becomes int32, and every value
 * is checked: tfjs has no int64, and a silently wrapped index is worse than an error.
 */
export function toTfjsData(tensor: HostTensor, where: string): Float32Array | Int32Array | Uint8Array {
  const dtype = tfjsDType(tensor.dtype, where);
  if (dtype !== 'int32') return tensor.data as Float32Array | Uint8Array;
  const source = tensor.data as BigInt64Array;
  const narrowed = new Int32Array(source.length);
  for (let i = 0; i < source.length; i++) {
    const value = Number(source[i]);
    if (value < INT32_MIN || value > INT32_MAX) {
      throw new DTypeError(
        `${where}: int64 value ${source[i]} at flat index ${i} of a tensor of shape ${formatShape(tensor.shape)} does not fit in int32, ` +
          'and TensorFlow.js holds int64 as int32. Keep integers within +-2^31, or use backend-onnx.',
      );
    }
    narrowed[i] = value;
  }
  return narrowed;
}

/**
 * tfjs data back in the IR dtype. `copy` guards against handing out a
 * runtime's internal buffer (tfjs-cpu returns it from `data()`).
 */
export function fromTfjsData(dtype: DType, data: ArrayLike<number>, copy: boolean): HostData {
  if (dtype === 'int64') {
    const widened = allocate('int64', data.length);
    for (let i = 0; i < data.length; i++) widened[i] = BigInt(data[i]);
    return widened;
  }
  if (dtype === 'bool') {
    // Normalised to 0/1: a nonzero byte is true whatever the kernel stored.
    const bytes = allocate('bool', data.length);
    for (let i = 0; i < data.length; i++) bytes[i] = data[i] !== 0 ? 1 : 0;
    return bytes;
  }
  const floats = data instanceof Float32Array ? data : Float32Array.from(data);
  return copy && floats === data ? floats.slice() : floats;
}
