import { ConfigError, ShapeError, allocate, type HostTensor } from '@nnd/core';

/**
 * Token ids as a [batch, seq] array: a host tensor (int64 or any dtype with
 * integer values), typed data with a shape, or nested number arrays.
 */
export type TokenInput = HostTensor | { readonly data: BigInt64Array | Int32Array | Uint32Array | readonly number[]; readonly shape: readonly number[] } | readonly (readonly number[])[];

/** Normalises token ids to an int64 [batch, seq] host tensor, checking rectangularity and the vocabulary range. */
export function toTokenTensor(input: TokenInput, vocabSize: number): HostTensor<'int64'> {
  let shape: number[];
  let values: ArrayLike<number | bigint>;
  if (Array.isArray(input)) {
    const rows = input as readonly (readonly number[])[];
    const length = rows[0]?.length ?? 0;
    if (rows.some((row) => !Array.isArray(row) || row.length !== length)) {
      throw new ShapeError('tokens: nested arrays must be rectangular [batch][seq] with equal row lengths; pad or truncate rows first.');
    }
    shape = [rows.length, length];
    values = rows.flat();
  } else {
    const tensor = input as { data: ArrayLike<number | bigint>; shape: readonly number[] };
    shape = [...tensor.shape];
    values = tensor.data;
  }
  if (shape.length !== 2 || shape[0] * shape[1] !== values.length || shape[0] === 0 || shape[1] === 0) {
    throw new ShapeError(`tokens: expected a non-empty [batch, seq] array, got shape [${shape.join(', ')}] with ${values.length} values.`);
  }
  const data = values instanceof BigInt64Array ? values : new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    const id = Number(value);
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new ConfigError(`tokens: id ${String(value)} at flat position ${i} is outside the vocabulary [0, ${vocabSize}).`);
    }
    if (data !== values) data[i] = BigInt(id);
  }
  return { dtype: 'int64', shape, data };
}

/** Rows [from, to) of a host tensor, as a view without copying. */
export function sliceRows<T extends HostTensor>(tensor: T, from: number, to: number): T {
  const rowSize = tensor.shape.slice(1).reduce((product, dim) => product * dim, 1);
  return { dtype: tensor.dtype, shape: [to - from, ...tensor.shape.slice(1)], data: tensor.data.subarray(from * rowSize, to * rowSize) } as unknown as T;
}

/** Concatenates host tensors of one dtype along axis 0. */
export function concatHostRows(tensors: readonly HostTensor[]): HostTensor {
  if (tensors.length === 1) return tensors[0];
  const { dtype } = tensors[0];
  const data = allocate(
    dtype,
    tensors.reduce((total, tensor) => total + tensor.data.length, 0),
  );
  let offset = 0;
  for (const tensor of tensors) {
    (data as Float32Array).set(tensor.data as Float32Array, offset);
    offset += tensor.data.length;
  }
  return { dtype, shape: [tensors.reduce((rows, tensor) => rows + tensor.shape[0], 0), ...tensors[0].shape.slice(1)], data };
}
