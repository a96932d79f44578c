/** Element types this reader and writer support, spelled as in the safetensors header. */
export type SafetensorsDType = 'F32' | 'F64' | 'F16' | 'BF16' | 'I64' | 'I32' | 'U8' | 'BOOL';

const byteSizes: Readonly<Record<SafetensorsDType, number>> = {
  F32: 4,
  F64: 8,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  U8: 1,
  BOOL: 1,
};

export function isSafetensorsDType(value: unknown): value is SafetensorsDType {
  return typeof value === 'string' && Object.hasOwn(byteSizes, value);
}

export function dtypeByteSize(dtype: SafetensorsDType): number {
  return byteSizes[dtype];
}

export function isValidShape(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((dimension) => Number.isSafeInteger(dimension) && dimension >= 0);
}

/** Product of the dimensions, or undefined when it is not exactly representable as a safe integer. */
export function elementCount(shape: readonly number[]): number | undefined {
  // A zero dimension empties the tensor however large the others are, as in the Python library.
  if (shape.includes(0)) return 0;
  let count = 1;
  for (const dimension of shape) {
    count *= dimension;
    if (count > Number.MAX_SAFE_INTEGER) return undefined;
  }
  return count;
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
