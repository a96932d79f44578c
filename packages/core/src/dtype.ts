import { DTypeError } from './errors/dtype-error.js';
import { ShapeError } from './errors/shape-error.js';

/** Element types of the IR. int64 indices and bool masks follow ONNX. */
export type DType = 'float32' | 'float64' | 'int64' | 'bool';

export const DTYPES: readonly DType[] = ['float32', 'float64', 'int64', 'bool'];

export interface TypedArrayOf {
  float32: Float32Array;
  float64: Float64Array;
  int64: BigInt64Array;
  bool: Uint8Array;
}

export type HostData = TypedArrayOf[DType];

/** A tensor in host memory: a dense row-major typed array and a concrete shape. */
export interface HostTensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: TypedArrayOf[D];
}

export function isFloatDType(dtype: DType): dtype is 'float32' | 'float64' {
  return dtype === 'float32' || dtype === 'float64';
}

const BYTES_PER_ELEMENT: Readonly<Record<DType, number>> = { float32: 4, float64: 8, int64: 8, bool: 1 };

/** Bytes of one element of `dtype` in host memory (its typed array's BYTES_PER_ELEMENT). */
export function bytesPerElement(dtype: DType): number {
  return BYTES_PER_ELEMENT[dtype];
}

export function sizeOf(shape: readonly number[]): number {
  let size = 1;
  for (const dim of shape) size *= dim;
  return size;
}

export function allocate<D extends DType>(dtype: D, size: number): TypedArrayOf[D] {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size) as TypedArrayOf[D];
    case 'float64':
      return new Float64Array(size) as TypedArrayOf[D];
    case 'int64':
      return new BigInt64Array(size) as TypedArrayOf[D];
    case 'bool':
      return new Uint8Array(size) as TypedArrayOf[D];
    default:
      throw new DTypeError(`Unknown dtype '${String(dtype)}'; expected one of ${DTYPES.join(', ')}.`);
  }
}

export function dtypeOfData(data: HostData): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof BigInt64Array) return 'int64';
  return 'bool';
}

/**
 * Builds a host tensor, checking that the data length matches the shape.
 * Plain number arrays are converted to the dtype's typed array.
 */
export function hostTensor<D extends DType>(dtype: D, shape: readonly number[], data: TypedArrayOf[D] | ArrayLike<number | bigint | boolean>): HostTensor<D> {
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) {
      throw new ShapeError(`Host tensor shape [${shape.join(', ')}] has an invalid dimension ${dim}; dimensions must be non-negative integers.`);
    }
  }
  const size = sizeOf(shape);
  let typed: TypedArrayOf[D];
  if (ArrayBuffer.isView(data) && dtypeOfData(data as HostData) === dtype && !(data instanceof Uint8Array && dtype !== 'bool')) {
    typed = data as TypedArrayOf[D];
  } else {
    typed = allocate(dtype, data.length);
    for (let i = 0; i < data.length; i++) {
      const value = data[i];
      if (dtype === 'int64') (typed as BigInt64Array)[i] = BigInt(typeof value === 'boolean' ? Number(value) : value);
      else (typed as Float32Array)[i] = Number(value);
    }
  }
  if (typed.length !== size) {
    throw new ShapeError(`Host tensor of shape [${shape.join(', ')}] needs ${size} elements but got ${typed.length}.`);
  }
  return { dtype, shape: [...shape], data: typed };
}
