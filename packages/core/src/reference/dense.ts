import { allocate, dtypeOfData, sizeOf, type DType, type HostTensor } from '../dtype.js';
import { DTypeError } from '../errors/dtype-error.js';
import { ShapeError } from '../errors/shape-error.js';
import type { OpAttributes, OpName } from '../op-set.js';
import { broadcastShapes, formatShape, type Dim } from '../shape.js';

/**
 * The interpreter's value: every dtype held as float64 numbers, so one kernel
 * serves all dtypes. int64 is exact only below 2^53; bool is 0 or 1.
 */
export interface DenseTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

export interface KernelContext {
  /** Names the node in error messages, e.g. `Reshape (node 7)`. */
  readonly where: string;
  /** Resolves a symbolic dimension from the sizes bound so far. */
  resolve(dim: Dim): number;
}

export type Kernel<O extends OpName> = (inputs: readonly DenseTensor[], attributes: OpAttributes[O], context: KernelContext) => DenseTensor[];

export function dense(dtype: DType, shape: readonly number[], data: Float64Array = new Float64Array(sizeOf(shape))): DenseTensor {
  return { dtype, shape, data };
}

/**
 * Stores computed values in a dtype, as an engine with that dtype's memory
 * would: float32 rounds, int64 truncates toward zero (C integer division and
 * ONNX Cast; NaN and -0 become 0), bool is value != 0.
 */
export function storeAs(dtype: DType, shape: readonly number[], data: Float64Array): DenseTensor {
  switch (dtype) {
    case 'float32':
      return dense(dtype, shape, data.map(Math.fround));
    case 'int64':
      return dense(
        dtype,
        shape,
        data.map((value) => Math.trunc(value) || 0),
      );
    case 'bool':
      return dense(
        dtype,
        shape,
        data.map((value) => Number(value !== 0)),
      );
    default:
      return dense(dtype, shape, data);
  }
}

export function fromHost(tensor: HostTensor, where: string): DenseTensor {
  if (dtypeOfData(tensor.data) !== tensor.dtype || (tensor.dtype === 'bool' && !(tensor.data instanceof Uint8Array))) {
    throw new DTypeError(`${where}: tensor declares dtype ${tensor.dtype} but holds a ${tensor.data.constructor.name}.`);
  }
  if (tensor.data.length !== sizeOf(tensor.shape)) {
    throw new ShapeError(`${where}: shape ${formatShape(tensor.shape)} needs ${sizeOf(tensor.shape)} elements but the data has ${tensor.data.length}.`);
  }
  const data = new Float64Array(tensor.data.length);
  for (let i = 0; i < data.length; i++) data[i] = Number(tensor.data[i]);
  return dense(tensor.dtype, [...tensor.shape], data);
}

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

export function toHost(tensor: DenseTensor): HostTensor {
  const data = allocate(tensor.dtype, tensor.data.length);
  tensor.data.forEach((value, i) => {
    if (tensor.dtype === 'int64') {
      // Saturates: BigInt() would throw on Infinity (storeAs has already truncated and removed NaN).
      const integer = Number.isNaN(value) ? 0n : value >= 2 ** 63 ? INT64_MAX : value < -(2 ** 63) ? INT64_MIN : BigInt(Math.trunc(value));
      (data as BigInt64Array)[i] = integer;
    } else (data as Float64Array)[i] = tensor.dtype === 'bool' ? Number(value !== 0) : value;
  });
  return { dtype: tensor.dtype, shape: [...tensor.shape], data };
}

export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    strides[axis] = stride;
    stride *= shape[axis];
  }
  return strides;
}

/** Data offsets of every element, in row-major order, of a strided view of shape `shape`. */
export function viewOffsets(shape: readonly number[], strides: readonly number[], base = 0): Float64Array {
  const offsets = new Float64Array(sizeOf(shape));
  const position = new Array<number>(shape.length).fill(0);
  let offset = base;
  for (let i = 0; i < offsets.length; i++) {
    offsets[i] = offset;
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      position[axis]++;
      offset += strides[axis];
      if (position[axis] < shape[axis]) break;
      offset -= strides[axis] * shape[axis];
      position[axis] = 0;
    }
  }
  return offsets;
}

/** Offsets into a tensor of shape `shape` for every element of `target`, with numpy broadcasting. */
export function broadcastOffsets(shape: readonly number[], target: readonly number[]): Float64Array {
  const own = stridesOf(shape);
  const strides = target.map((_, axis) => {
    const sourceAxis = axis - target.length + shape.length;
    return sourceAxis < 0 || shape[sourceAxis] === 1 ? 0 : own[sourceAxis];
  });
  return viewOffsets(target, strides);
}

export function gatherOffsets(tensor: DenseTensor, offsets: Float64Array): Float64Array {
  return offsets.map((offset) => tensor.data[offset]);
}

/** Applies `compute` element-wise under multidirectional broadcasting. */
export function mapBroadcast(inputs: readonly DenseTensor[], dtype: DType, where: string, compute: (...values: number[]) => number): DenseTensor {
  const shape = broadcastShapes(
    inputs.map((input) => input.shape),
    where,
  ) as number[];
  const offsets = inputs.map((input) => broadcastOffsets(input.shape, shape));
  const data = new Float64Array(sizeOf(shape));
  const values = new Array<number>(inputs.length);
  for (let i = 0; i < data.length; i++) {
    for (let j = 0; j < inputs.length; j++) values[j] = inputs[j].data[offsets[j][i]];
    data[i] = compute(...values);
  }
  return dense(dtype, shape, data);
}

/** Splits a shape around `axis` into the sizes before it, along it and after it. */
export function aroundAxis(shape: readonly number[], axis: number): { outer: number; size: number; inner: number } {
  return { outer: sizeOf(shape.slice(0, axis)), size: shape[axis], inner: sizeOf(shape.slice(axis + 1)) };
}

/** Normalises a possibly negative index along an axis, rejecting out-of-range ones. */
export function checkedIndex(index: number, size: number, where: string): number {
  const normalized = index < 0 ? index + size : index;
  if (!Number.isInteger(normalized) || normalized < 0 || normalized >= size) {
    throw new ShapeError(`${where}: index ${index} is out of range for an axis of size ${size}; use an index in [${-size}, ${size - 1}].`);
  }
  return normalized;
}
