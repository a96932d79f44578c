import { sizeOf } from '../dtype.js';
import { ShapeError } from '../errors/shape-error.js';
import { broadcastShapes, formatShape, normalizeAxis } from '../shape.js';
import { broadcastOffsets, dense, stridesOf, viewOffsets, type Kernel } from './dense.js';

type ReductionOp = 'ReduceSum' | 'ReduceMean' | 'ReduceMax' | 'ReduceSumSquare' | 'MatMul';

interface Reducer {
  initial: number;
  combine: (accumulator: number, value: number) => number;
  finish?: (accumulator: number, count: number) => number;
}

function reduction({ initial, combine, finish }: Reducer): Kernel<Exclude<ReductionOp, 'MatMul'>> {
  return ([x], { axes, keepdims }, { where }) => {
    const reduced = new Set(axes.length === 0 ? x.shape.map((_, axis) => axis) : axes.map((axis) => normalizeAxis(axis, x.shape.length, where)));
    const keptShape = x.shape.map((dim, axis) => (reduced.has(axis) ? 1 : dim));
    const keptStrides = stridesOf(keptShape);
    // Walking the input with stride 0 on reduced axes gives each element's output slot.
    const targets = viewOffsets(
      x.shape,
      keptStrides.map((stride, axis) => (reduced.has(axis) ? 0 : stride)),
    );
    const data = new Float64Array(sizeOf(keptShape)).fill(initial);
    x.data.forEach((value, i) => (data[targets[i]] = combine(data[targets[i]], value)));
    const count = x.data.length / Math.max(data.length, 1);
    const result = finish ? data.map((accumulator) => finish(accumulator, count)) : data;
    return [dense(x.dtype, keepdims ? keptShape : x.shape.filter((_, axis) => !reduced.has(axis)), result)];
  };
}

/** numpy matmul: rank-1 operands gain then lose a unit axis; leading axes broadcast. */
const matmul: Kernel<'MatMul'> = ([left, right], _attributes, { where }) => {
  const leftShape = left.shape.length === 1 ? [1, left.shape[0]] : left.shape;
  const rightShape = right.shape.length === 1 ? [right.shape[0], 1] : right.shape;
  const [rows, depth] = leftShape.slice(-2);
  const [rightDepth, columns] = rightShape.slice(-2);
  if (depth !== rightDepth) {
    throw new ShapeError(`${where}: MatMul inner dimensions differ: ${formatShape(left.shape)} x ${formatShape(right.shape)}.`);
  }
  const batch = broadcastShapes([leftShape.slice(0, -2), rightShape.slice(0, -2)], where) as number[];
  const leftBatches = broadcastOffsets(leftShape.slice(0, -2), batch);
  const rightBatches = broadcastOffsets(rightShape.slice(0, -2), batch);
  const data = new Float64Array(sizeOf(batch) * rows * columns);
  for (let batchIndex = 0; batchIndex < leftBatches.length; batchIndex++) {
    const leftBase = leftBatches[batchIndex] * rows * depth;
    const rightBase = rightBatches[batchIndex] * depth * columns;
    for (let row = 0; row < rows; row++) {
      for (let column = 0; column < columns; column++) {
        let sum = 0;
        for (let inner = 0; inner < depth; inner++) {
          sum += left.data[leftBase + row * depth + inner] * right.data[rightBase + inner * columns + column];
        }
        data[(batchIndex * rows + row) * columns + column] = sum;
      }
    }
  }
  const shape = [...batch, ...(left.shape.length === 1 ? [] : [rows]), ...(right.shape.length === 1 ? [] : [columns])];
  return [dense(left.dtype, shape, data)];
};

export const REDUCTION_KERNELS: { [O in ReductionOp]: Kernel<O> } = {
  ReduceSum: reduction({ initial: 0, combine: (sum, value) => sum + value }),
  ReduceMean: reduction({ initial: 0, combine: (sum, value) => sum + value, finish: (sum, count) => sum / count }),
  ReduceMax: reduction({ initial: -Infinity, combine: Math.max }),
  ReduceSumSquare: reduction({ initial: 0, combine: (sum, value) => sum + value * value }),
  MatMul: matmul,
};
