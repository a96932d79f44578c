import { ShapeError, formatShape, type HostTensor } from '@nnd/core';

export type FloatTensor = HostTensor<'float32'>;

function expectRank(tensor: FloatTensor, rank: number, what: string): void {
  if (tensor.shape.length !== rank) throw new ShapeError(`${what}: expected a rank-${rank} tensor, got ${formatShape(tensor.shape)}.`);
}

/** [rows, columns] -> [columns, rows]: Hugging Face Linear weights are [out, in], the graph multiplies by [in, out]. */
export function transpose2d(tensor: FloatTensor): FloatTensor {
  expectRank(tensor, 2, 'transpose2d');
  const [rows, columns] = tensor.shape;
  const data = new Float32Array(rows * columns);
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) data[column * rows + row] = tensor.data[row * columns + column];
  }
  return { dtype: 'float32', shape: [columns, rows], data };
}

/** The rows at `indices` of a [rows, ...] tensor, in that order. */
export function takeRows(tensor: FloatTensor, indices: readonly number[]): FloatTensor {
  const rowSize = tensor.shape.slice(1).reduce((product, dim) => product * dim, 1);
  const data = new Float32Array(indices.length * rowSize);
  indices.forEach((row, position) => {
    if (row < 0 || row >= tensor.shape[0]) throw new ShapeError(`takeRows: row ${row} is outside a tensor of shape ${formatShape(tensor.shape)}.`);
    data.set(tensor.data.subarray(row * rowSize, (row + 1) * rowSize), position * rowSize);
  });
  return { dtype: 'float32', shape: [indices.length, ...tensor.shape.slice(1)], data };
}

/** Columns [from, to) of a [rows, columns] tensor (Conv1D's fused [in, 3 * out] attention weight). */
export function takeColumns(tensor: FloatTensor, from: number, to: number): FloatTensor {
  expectRank(tensor, 2, 'takeColumns');
  const [rows, columns] = tensor.shape;
  if (from < 0 || to > columns || from >= to) throw new ShapeError(`takeColumns: [${from}, ${to}) is not inside ${columns} columns.`);
  const width = to - from;
  const data = new Float32Array(rows * width);
  for (let row = 0; row < rows; row++) data.set(tensor.data.subarray(row * columns + from, row * columns + to), row * width);
  return { dtype: 'float32', shape: [rows, width], data };
}

/** Elements [from, to) of a vector. */
export function takeRange(tensor: FloatTensor, from: number, to: number): FloatTensor {
  expectRank(tensor, 1, 'takeRange');
  return { dtype: 'float32', shape: [to - from], data: tensor.data.slice(from, to) };
}
