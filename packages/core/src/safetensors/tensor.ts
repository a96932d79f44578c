import { SafetensorsError } from '../errors/safetensors-error.js';
import { dtypeByteSize, elementCount, formatShape, isSafetensorsDType, isValidShape } from './dtype.js';
import type { SafetensorsDType } from './dtype.js';
import { bfloat16BitsToFloat32Bits, float16BitsToFloat32Bits, float32ToBFloat16Bits, float32ToFloat16Bits } from './half-precision.js';

/** A tensor as stored on disk: `data` holds its raw little-endian bytes, row-major. */
export interface SafetensorsTensor<D extends SafetensorsDType = SafetensorsDType> {
  dtype: D;
  shape: number[];
  data: Uint8Array;
}

/** The host array `toTypedArray` returns for each dtype; halves widen to float32. */
export type SafetensorsTypedArray<D extends SafetensorsDType = SafetensorsDType> = D extends 'F32' | 'F16' | 'BF16'
  ? Float32Array
  : D extends 'F64'
    ? Float64Array
    : D extends 'I64'
      ? BigInt64Array
      : D extends 'I32'
        ? Int32Array
        : Uint8Array;

const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverses each `elementSize`-byte group in place; file bytes are little-endian whatever the host is. */
function swapBytesOnBigEndianHost(bytes: Uint8Array, elementSize: number): void {
  if (hostIsLittleEndian || elementSize === 1) return;
  for (let start = 0; start < bytes.length; start += elementSize) {
    bytes.subarray(start, start + elementSize).reverse();
  }
}

/** Copies the bytes into a fresh, aligned buffer so the result never aliases file data. */
function alignedCopy(tensor: SafetensorsTensor): ArrayBuffer {
  // The constructor, not slice(): on a Node Buffer slice() returns a view of a shared pool.
  const copy = new Uint8Array(tensor.data);
  swapBytesOnBigEndianHost(copy, dtypeByteSize(tensor.dtype));
  return copy.buffer;
}

function checkTensor(tensor: SafetensorsTensor, context: string): number {
  if (!isSafetensorsDType(tensor.dtype)) {
    throw new SafetensorsError(`${context}: unknown dtype ${JSON.stringify(tensor.dtype)}; use one of F32, F64, F16, BF16, I64, I32, U8, BOOL`);
  }
  if (!isValidShape(tensor.shape)) {
    throw new SafetensorsError(`${context}: shape ${JSON.stringify(tensor.shape)} must be an array of non-negative safe integers`);
  }
  const count = elementCount(tensor.shape);
  if (count === undefined) {
    throw new SafetensorsError(`${context}: shape ${formatShape(tensor.shape)} has more elements than fit a safe integer`);
  }
  return count;
}

/** Checks that dtype, shape and byte length agree; returns the element count. */
export function checkSafetensorsTensor(tensor: SafetensorsTensor, context: string): number {
  const count = checkTensor(tensor, context);
  const expectedBytes = count * dtypeByteSize(tensor.dtype);
  if (!(tensor.data instanceof Uint8Array) || tensor.data.length !== expectedBytes) {
    const actual = tensor.data instanceof Uint8Array ? `${tensor.data.length} bytes` : 'not a Uint8Array';
    throw new SafetensorsError(
      `${context}: shape ${formatShape(tensor.shape)} with dtype ${tensor.dtype} needs ${expectedBytes} bytes ` +
        `of data but data is ${actual}; pass a Uint8Array of exactly that length or fix the shape`,
    );
  }
  return count;
}

/** Decodes the raw bytes into a fresh host array (never a view of `tensor.data`). */
export function toTypedArray<D extends SafetensorsDType>(tensor: SafetensorsTensor<D>): SafetensorsTypedArray<D> {
  const count = checkSafetensorsTensor(tensor, 'toTypedArray');
  const buffer = alignedCopy(tensor);
  let result: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;
  switch (tensor.dtype) {
    case 'F32':
      result = new Float32Array(buffer);
      break;
    case 'F64':
      result = new Float64Array(buffer);
      break;
    case 'I64':
      result = new BigInt64Array(buffer);
      break;
    case 'I32':
      result = new Int32Array(buffer);
      break;
    case 'U8':
    case 'BOOL':
      result = new Uint8Array(buffer);
      break;
    default: {
      const halves = new Uint16Array(buffer);
      const decode = tensor.dtype === 'F16' ? float16BitsToFloat32Bits : bfloat16BitsToFloat32Bits;
      const bits = new Uint32Array(count);
      for (let index = 0; index < count; index += 1) bits[index] = decode(halves[index]);
      result = new Float32Array(bits.buffer);
    }
  }
  return result as SafetensorsTypedArray<D>;
}

type HostArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

function expectedArrayName(dtype: SafetensorsDType): string {
  if (dtype === 'I64') return 'BigInt64Array';
  if (dtype === 'I32') return 'Int32Array';
  if (dtype === 'U8' || dtype === 'BOOL') return 'Uint8Array';
  return 'Float32Array or Float64Array';
}

function matchesDType(dtype: SafetensorsDType, array: HostArray): boolean {
  if (dtype === 'I64') return array instanceof BigInt64Array;
  if (dtype === 'I32') return array instanceof Int32Array;
  if (dtype === 'U8' || dtype === 'BOOL') return array instanceof Uint8Array;
  return array instanceof Float32Array || array instanceof Float64Array;
}

/** Encodes a host array as a tensor; F16/BF16 round to nearest even, BOOL stores any non-zero as 1. */
export function fromTypedArray<D extends SafetensorsDType>(dtype: D, shape: readonly number[], array: HostArray): SafetensorsTensor<D> {
  const count = checkTensor({ dtype, shape: shape as number[], data: new Uint8Array(0) }, 'fromTypedArray');
  if (!matchesDType(dtype, array)) {
    throw new SafetensorsError(`fromTypedArray: dtype ${dtype} needs a ${expectedArrayName(dtype)}, got ${array.constructor.name}`);
  }
  if (array.length !== count) {
    throw new SafetensorsError(`fromTypedArray: shape ${formatShape(shape)} has ${count} elements but the array has ${array.length}; ` + 'reshape or pass an array of matching length');
  }
  let data: Uint8Array;
  if (dtype === 'F16' || dtype === 'BF16') {
    const encode = dtype === 'F16' ? float32ToFloat16Bits : float32ToBFloat16Bits;
    const halves = new Uint16Array(count);
    for (let index = 0; index < count; index += 1) halves[index] = encode(array[index] as number);
    data = new Uint8Array(halves.buffer);
  } else if (dtype === 'BOOL') {
    data = Uint8Array.from(array as Uint8Array, (value) => (value === 0 ? 0 : 1));
  } else {
    // Float dtypes accept either float array, so values are converted to the stored width.
    let stored: HostArray = array;
    if (dtype === 'F32') stored = Float32Array.from(array as Float64Array);
    if (dtype === 'F64') stored = Float64Array.from(array as Float32Array);
    // Copied through a plain Uint8Array view: the input may be a Buffer whose slice() would alias its pool.
    data = new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength).slice();
  }
  swapBytesOnBigEndianHost(data, dtypeByteSize(dtype));
  return { dtype, shape: [...shape], data };
}
