import { hostTensor, type HostTensor } from '@nnd/core';

/** A host matrix [rows, columns] transposed, as float32. */
export function transposeMatrix(matrix: HostTensor): HostTensor {
  const [rows, columns] = matrix.shape;
  const data = new Float32Array(rows * columns);
  for (let row = 0; row < rows; row++) for (let column = 0; column < columns; column++) data[column * rows + row] = Number(matrix.data[row * columns + column]);
  return hostTensor('float32', [columns, rows], data);
}
