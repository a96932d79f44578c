import type { TfTensor, Tfjs, TfjsRuntime } from '../tfjs-runtime.js';

/**
 * Routes around tfjs kernels that are slow on some runtime. Measured with
 * tfjs 4.22 on wasm (one thread): tf.broadcastTo (Tile) of a [4096] row to
 * [1024, 4096] 461 ms, subtracting broadcast zeros 18 ms; tf.where with a
 * broadcast operand ~1 s (tfjs broadcasts every operand with Tile), with
 * equal shapes 56 ms; tf.gather of [1024, 32] rows of a [4096, 768] table
 * 1808 ms, tf.gatherND of the same 104 ms. On tfjs-cpu gather beats gatherND
 * (193 vs 345 ms for 0.5M elements), so the gather route depends on the runtime.
 */

/**
 * x broadcast to `shape` (numpy rules): x - 0 with the zeros of the target
 * shape, which keeps NaN, infinities and the sign of zero; bool through Or.
 */
export function broadcast(tf: Tfjs, x: TfTensor, shape: readonly number[]): TfTensor {
  if (x.shape.join() === shape.join()) return tf.clone(x);
  const zeros = tf.zeros([...shape], x.dtype);
  return x.dtype === 'bool' ? tf.logicalOr(x, zeros) : tf.sub(x, zeros);
}

/** Gathers slices along axis 0 of `x`, one per index (any shape), as tf.gather(x, indices, 0) does. */
export function gatherLeading(tf: Tfjs, runtime: TfjsRuntime, x: TfTensor, indices: TfTensor): TfTensor {
  return runtime === 'wasm' ? tf.gatherND(x, tf.expandDims(indices, -1)) : tf.gather(x, indices, 0);
}

/** tf.gather(x, indices, axis) for in-range, non-negative indices, by the faster route on this runtime. */
export function gatherAlong(tf: Tfjs, runtime: TfjsRuntime, x: TfTensor, indices: TfTensor, axis: number): TfTensor {
  if (axis === 0) return gatherLeading(tf, runtime, x, indices);
  if (runtime !== 'wasm') return tf.gather(x, indices, axis);
  // gatherND indexes leading axes only: address (outer block, index) pairs in x viewed as [outer, size, inner].
  const outerShape = x.shape.slice(0, axis);
  const innerShape = x.shape.slice(axis + 1);
  const outer = outerShape.reduce((product, dim) => product * dim, 1);
  const inner = innerShape.reduce((product, dim) => product * dim, 1);
  const count = indices.size;
  const blocks = tf.add(tf.reshape(tf.range(0, outer, 1, 'int32'), [outer, 1, 1]), tf.zeros([outer, count, 1], 'int32'));
  const positions = tf.add(tf.reshape(indices, [1, count, 1]), tf.zeros([outer, count, 1], 'int32'));
  const rows = tf.gatherND(tf.reshape(x, [outer, x.shape[axis], inner]), tf.concat([blocks, positions], 2));
  return tf.reshape(rows, [...outerShape, ...indices.shape, ...innerShape]);
}
