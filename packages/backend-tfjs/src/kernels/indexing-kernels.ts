import { ShapeError, formatShape, normalizeAxis } from '@nnd/core';
import type { TfTensor, Tfjs } from '../tfjs-runtime.js';
import { gatherAlong, gatherLeading } from './fast-paths.js';
import type { KernelTable } from './kernel.js';

type IndexingOp = 'Gather' | 'GatherElements' | 'ScatterElements' | 'ScatterND' | 'TopK';

/**
 * ONNX indices may be negative (counting from the end); tfjs's are not.
 * Floor modulo maps [-size, size) onto [0, size) in one op. Indices outside
 * that range wrap instead of failing: checking them would cost a device
 * round trip per op, so they are documented as undefined, as in tfjs itself.
 */
function wrapIndices(tf: Tfjs, indices: TfTensor, sizes: number | readonly number[]): TfTensor {
  const divisor = typeof sizes === 'number' ? tf.scalar(sizes, 'int32') : tf.tensor1d([...sizes], 'int32');
  return tf.mod(indices, divisor);
}

function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    strides[axis] = stride;
    stride *= shape[axis];
  }
  return strides;
}

/**
 * For each element of `indices` (same rank as the data), the flat offset in
 * the data of its position with the `axis` coordinate replaced by its value.
 * tfjs has no GatherElements / ScatterElements; on flat offsets they become
 * a 1-D gather and a 1-D scatter, which every runtime has.
 */
function elementOffsets(tf: Tfjs, dataShape: readonly number[], indices: TfTensor, axis: number, where: string): TfTensor {
  indices.shape.forEach((size, dimension) => {
    if (dimension !== axis && size > dataShape[dimension]) {
      throw new ShapeError(`${where}: indices shape ${formatShape(indices.shape)} exceeds data shape ${formatShape(dataShape)} on axis ${dimension}.`);
    }
  });
  const strides = stridesOf(dataShape);
  let offsets = tf.mul(wrapIndices(tf, indices, dataShape[axis]), tf.scalar(strides[axis], 'int32'));
  indices.shape.forEach((size, dimension) => {
    if (dimension === axis || size === 1) return;
    const along = indices.shape.map((_, i) => (i === dimension ? size : 1));
    offsets = tf.add(offsets, tf.reshape(tf.range(0, size * strides[dimension], strides[dimension], 'int32'), along));
  });
  return offsets;
}

/**
 * Scatter-add of rows into zeros of `shape`. tf.scatterND sums duplicate
 * indices on every runtime (checked on cpu and wasm), unlike
 * UnsortedSegmentSum, which tfjs-wasm does not register.
 */
function scatterAdd(tf: Tfjs, data: TfTensor, indices: TfTensor, updates: TfTensor): TfTensor {
  return tf.add(data, tf.scatterND(indices, updates, data.shape));
}

function topk(tf: Tfjs, x: TfTensor, k: number, largest: boolean): { values: TfTensor; indices: TfTensor } {
  // tf.topk finds the largest along the last axis, ties to the lower index (as ONNX requires; checked on cpu and wasm).
  // Smallest-k is largest-k of -x, which keeps that tie order.
  if (largest) return tf.topk(x, k, true);
  const { values, indices } = tf.topk(tf.neg(x), k, true);
  return { values: tf.neg(values), indices };
}

export const INDEXING_KERNELS: KernelTable<IndexingOp> = {
  Gather: ([x, indices], { axis }, { tf, runtime, where }) => {
    const normalized = normalizeAxis(axis, x.rank, where);
    return [gatherAlong(tf, runtime, x, wrapIndices(tf, indices, x.shape[normalized]), normalized)];
  },
  GatherElements: ([x, indices], { axis }, { tf, runtime, where }) => {
    const offsets = elementOffsets(tf, x.shape, indices, normalizeAxis(axis, x.rank, where), where);
    return [gatherLeading(tf, runtime, tf.reshape(x, [-1]), offsets)];
  },
  ScatterElements: ([x, indices, updates], { axis, reduction }, { tf, where }) => {
    if (indices.shape.join() !== updates.shape.join()) {
      throw new ShapeError(`${where}: indices ${formatShape(indices.shape)} and updates ${formatShape(updates.shape)} must have the same shape.`);
    }
    const offsets = tf.reshape(elementOffsets(tf, x.shape, indices, normalizeAxis(axis, x.rank, where), where), [-1, 1]);
    const flat = tf.reshape(x, [-1]);
    const flatUpdates = tf.reshape(updates, [-1]);
    // 'none' writes in order, so a repeated index keeps its last update, as the reference does (ONNX leaves it undefined).
    const result = reduction === 'add' ? scatterAdd(tf, flat, offsets, flatUpdates) : tf.tensorScatterUpdate(flat, offsets, flatUpdates);
    return [tf.reshape(result, x.shape)];
  },
  ScatterND: ([x, indices, updates], { reduction }, { tf, where }) => {
    const depth = indices.shape[indices.rank - 1];
    const expected = [...indices.shape.slice(0, -1), ...x.shape.slice(depth)];
    if (depth === 0 || updates.shape.join() !== expected.join()) {
      throw new ShapeError(`${where}: updates ${formatShape(updates.shape)} must have shape ${formatShape(expected)}, and indices a nonzero last dimension.`);
    }
    const wrapped = wrapIndices(tf, indices, x.shape.slice(0, depth));
    return [reduction === 'add' ? scatterAdd(tf, x, wrapped, updates) : tf.tensorScatterUpdate(x, wrapped, updates)];
  },
  TopK: ([x], { axis, largest, kDim }, { tf, lookup, hostValues, where }) => {
    const normalized = normalizeAxis(axis, x.rank, where);
    const size = x.shape[normalized];
    // k is usually a static kDim; a symbolic one is read from the k input.
    const k = lookup(kDim) ?? hostValues(1)[0];
    if (!Number.isInteger(k) || k < 0 || k > size) {
      throw new ShapeError(`${where}: k must be one integer in [0, ${size}] (the size of axis ${axis} of ${formatShape(x.shape)}), got ${k}.`);
    }
    const last = x.rank - 1;
    if (normalized === last) {
      const { values, indices } = topk(tf, x, k, largest);
      return [values, indices];
    }
    const perm = x.shape.map((_, i) => (i === normalized ? last : i === last ? normalized : i));
    const { values, indices } = topk(tf, tf.transpose(x, perm), k, largest);
    return [tf.transpose(values, perm), tf.transpose(indices, perm)];
  },
};
