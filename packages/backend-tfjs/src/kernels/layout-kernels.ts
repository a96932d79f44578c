import { ShapeError, broadcastShapes, formatShape, normalizeAxis, sizeOf, type OpAttributes } from '@nnd/core';
import type { TfTensor, Tfjs } from '../tfjs-runtime.js';
import { broadcast } from './fast-paths.js';
import type { KernelTable } from './kernel.js';

type LayoutOp = 'MatMul' | 'Reshape' | 'Transpose' | 'Unsqueeze' | 'Squeeze' | 'Concat' | 'Slice' | 'Expand' | 'Shape' | 'Range';

/** Start and element count along one axis, clamped as the ONNX Slice spec describes (as the reference does). */
function sliceBounds(size: number, start: number, end: number, step: number): { first: number; count: number } {
  const clamp = (value: number, low: number, high: number) => Math.min(Math.max(value, low), high);
  const from = start < 0 ? start + size : start;
  const to = end < 0 ? end + size : end;
  // A negative step walks from at most the last element down to at least "before the first" (-1).
  const first = step > 0 ? clamp(from, 0, size) : clamp(from, 0, size - 1);
  const last = step > 0 ? clamp(to, 0, size) : clamp(to, -1, size - 1);
  return { first, count: Math.max(0, Math.ceil((last - first) / step)) };
}

/** The dimensions ONNX Shape returns: axes [start, end), negative counting from the end, clamped. */
export function shapeSlice(shape: readonly number[], { start, end }: OpAttributes['Shape']): number[] {
  const rank = shape.length;
  const clamp = (value: number) => Math.min(Math.max(value < 0 ? value + rank : value, 0), rank);
  return shape.slice(clamp(start), clamp(end ?? rank));
}

/**
 * numpy matmul: rank-1 operands gain a unit axis that is dropped again;
 * leading axes broadcast (tfjs's batched matMul broadcasts them). Operands
 * arrive materialised: a Transpose node before a MatMul runs as its own
 * transpose, which matters on wasm, where matMul with a transposed operand
 * is 15-60x slower than transposing first.
 */
function matmul(tf: Tfjs, left: TfTensor, right: TfTensor): TfTensor {
  // tfjs-wasm's BatchMatMul takes float32 only: int64 products go through float32 (exact below 2^24).
  if (left.dtype === 'int32') return tf.cast(matmul(tf, tf.cast(left, 'float32'), tf.cast(right, 'float32')), 'int32');
  const leftMatrix = left.rank === 1 ? tf.expandDims(left, 0) : left;
  const rightMatrix = right.rank === 1 ? tf.expandDims(right, 1) : right;
  let product = tf.matMul(leftMatrix, rightMatrix);
  if (right.rank === 1) product = tf.squeeze(product, [product.rank - 1]);
  if (left.rank === 1) product = tf.squeeze(product, [product.rank - (right.rank === 1 ? 1 : 2)]);
  return product;
}

export const LAYOUT_KERNELS: KernelTable<LayoutOp> = {
  MatMul: ([left, right], _attributes, { tf }) => [matmul(tf, left, right)],
  Reshape: ([x], { shape }, { tf, resolve, where }) => {
    const target = shape.map((dim) => (dim === -1 ? -1 : resolve(dim)));
    const known = sizeOf(target.filter((dim) => dim !== -1));
    const inferred = target.includes(-1) ? x.size / known : known;
    if (!Number.isInteger(inferred) || sizeOf(target.map((dim) => (dim === -1 ? inferred : dim))) !== x.size) {
      throw new ShapeError(`${where}: cannot reshape ${formatShape(x.shape)} (${x.size} elements) to ${formatShape(shape)} = ${formatShape(target)}.`);
    }
    return [
      tf.reshape(
        x,
        target.map((dim) => (dim === -1 ? inferred : dim)),
      ),
    ];
  },
  Transpose: ([x], { perm }, { tf }) => [tf.transpose(x, perm)],
  Unsqueeze: ([x], { axes }, { tf, where }) => {
    const rank = x.rank + axes.length;
    const inserted = new Set(axes.map((axis) => normalizeAxis(axis, rank, where)));
    const shape: number[] = [];
    let next = 0;
    for (let axis = 0; axis < rank; axis++) shape.push(inserted.has(axis) ? 1 : x.shape[next++]);
    return [tf.reshape(x, shape)];
  },
  Squeeze: ([x], { axes }, { tf, where }) => {
    const removed = new Set(axes.map((axis) => normalizeAxis(axis, x.rank, where)));
    for (const axis of removed) {
      if (x.shape[axis] !== 1) throw new ShapeError(`${where}: cannot squeeze axis ${axis} of ${formatShape(x.shape)}: its size is not 1.`);
    }
    return [
      tf.reshape(
        x,
        x.shape.filter((_, axis) => !removed.has(axis)),
      ),
    ];
  },
  Concat: (inputs, { axis }, { tf, where }) => [tf.concat([...inputs], normalizeAxis(axis, inputs[0].rank, where))],
  Slice: ([x], { starts, ends, axes, steps }, { tf, resolve, where }) => {
    const begin = x.shape.map(() => 0);
    const end = [...x.shape];
    const strides = x.shape.map(() => 1);
    const shape = [...x.shape];
    let endMask = 0;
    axes.forEach((axis, i) => {
      const normalized = normalizeAxis(axis, x.rank, where);
      const step = steps[i];
      if (step === 0) throw new ShapeError(`${where}: slice step must not be 0.`);
      const { first, count } = sliceBounds(x.shape[normalized], resolve(starts[i]), resolve(ends[i]), step);
      const last = first + (count - 1) * step;
      begin[normalized] = first;
      end[normalized] = last + Math.sign(step);
      strides[normalized] = step;
      shape[normalized] = count;
      // Walking down to element 0 needs an end "before 0", which strided slices spell as a mask bit, not -1.
      if (end[normalized] < 0) endMask |= 1 << normalized;
    });
    if (shape.includes(0)) return [tf.zeros(shape, x.dtype)];
    if (strides.every((stride) => stride === 1)) return [tf.slice(x, begin, shape)];
    return [tf.stridedSlice(x, begin, end, strides, 0, endMask)];
  },
  Expand: ([x], { shape }, { tf, resolve, where }) => {
    // ONNX Expand broadcasts both ways: a 1 in `shape` keeps x's size there.
    const target = broadcastShapes([x.shape, shape.map(resolve)], where) as number[];
    return [broadcast(tf, x, target)];
  },
  Shape: ([x], attributes, { tf }) => [tf.tensor1d(shapeSlice(x.shape, attributes), 'int32')],
  Range: ([start], _attributes, { tf, hostValues, where }) => {
    const [first, limit, delta] = [0, 1, 2].map((index) => hostValues(index)[0]);
    if (delta === 0) throw new ShapeError(`${where}: Range delta must not be 0.`);
    const count = Math.max(0, Math.ceil((limit - first) / delta));
    // Each element computed from the bounds in float64, as the reference does, not by repeated float32 addition as tf.range would.
    const values = Array.from({ length: count }, (_, i) => first + i * delta);
    return [tf.tensor1d(values, start.dtype === 'int32' ? 'int32' : 'float32')];
  },
};
