import { normalizeAxis } from '@nnd/core';
import type { TfTensor, Tfjs } from '../tfjs-runtime.js';
import { select } from './elementwise-kernels.js';
import type { KernelTable } from './kernel.js';

type NormalizationOp = 'Softmax' | 'LogSoftmax' | 'Trilu' | 'LayerNormalization';

/**
 * Softmax or its log along any axis. tfjs's fused kernels only take the last
 * axis; other axes use the same max-shifted formula in separate ops.
 */
function softmax(tf: Tfjs, x: TfTensor, axis: number, logarithm: boolean): TfTensor {
  if (axis === x.rank - 1) return logarithm ? tf.logSoftmax(x) : tf.softmax(x);
  const shifted = tf.sub(x, tf.max(x, axis, true));
  const total = tf.sum(tf.exp(shifted), axis, true);
  return logarithm ? tf.sub(shifted, tf.log(total)) : tf.div(tf.exp(shifted), total);
}

export const NORMALIZATION_KERNELS: KernelTable<NormalizationOp> = {
  Softmax: ([x], { axis }, { tf, where }) => [softmax(tf, x, normalizeAxis(axis, x.rank, where), false)],
  LogSoftmax: ([x], { axis }, { tf, where }) => [softmax(tf, x, normalizeAxis(axis, x.rank, where), true)],
  Trilu: ([x], { upper, k }, { tf }) => {
    const [rows, columns] = x.shape.slice(-2);
    // The [rows, columns] mask is built on the host: it depends on shapes only.
    const mask = new Uint8Array(rows * columns);
    for (let row = 0; row < rows; row++) {
      for (let column = 0; column < columns; column++) mask[row * columns + column] = Number(upper ? column - row >= k : column - row <= k);
    }
    // select, not a multiply by the mask: masked-out NaN and infinities become 0, as ONNX specifies.
    return [select(tf, tf.tensor2d(mask, [rows, columns], 'bool'), x, tf.zeros([], x.dtype))];
  },
  LayerNormalization: ([x, scale, bias], { axis, epsilon }, { tf, where }) => {
    const start = normalizeAxis(axis, x.rank, where);
    const axes = Array.from({ length: x.rank - start }, (_, i) => start + i);
    // Two-pass moments (the mean, then the mean squared deviation): ONNX's biased variance, without cancellation.
    const { mean, variance } = tf.moments(x, axes, true);
    const normalized = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, tf.scalar(epsilon, 'float32'))));
    const scaled = tf.mul(normalized, scale);
    return [bias === undefined ? scaled : tf.add(scaled, bias)];
  },
};
