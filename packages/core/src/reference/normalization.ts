import { sizeOf } from '../dtype.js';
import { ShapeError } from '../errors/shape-error.js';
import { broadcastShapes, formatShape, normalizeAxis } from '../shape.js';
import { aroundAxis, broadcastOffsets, dense, type Kernel } from './dense.js';

type NormalizationOp = 'Softmax' | 'LogSoftmax' | 'LayerNormalization' | 'Trilu';

/** Softmax or its log along one axis, shifted by the maximum so exp never overflows. */
function softmax(logarithm: boolean): Kernel<'Softmax' | 'LogSoftmax'> {
  return ([x], { axis }, { where }) => {
    const { outer, size, inner } = aroundAxis(x.shape, normalizeAxis(axis, x.shape.length, where));
    const data = new Float64Array(x.data.length);
    for (let block = 0; block < outer; block++) {
      for (let j = 0; j < inner; j++) {
        const at = (i: number) => (block * size + i) * inner + j;
        let maximum = -Infinity;
        for (let i = 0; i < size; i++) maximum = Math.max(maximum, x.data[at(i)]);
        // A line of only -Infinity yields NaN, as the formula does; masks should use a large finite negative.
        let sum = 0;
        for (let i = 0; i < size; i++) sum += Math.exp(x.data[at(i)] - maximum);
        const logSum = Math.log(sum);
        for (let i = 0; i < size; i++) {
          const shifted = x.data[at(i)] - maximum;
          data[at(i)] = logarithm ? shifted - logSum : Math.exp(shifted) / sum;
        }
      }
    }
    return [dense(x.dtype, x.shape, data)];
  };
}

export const NORMALIZATION_KERNELS: { [O in NormalizationOp]: Kernel<O> } = {
  Softmax: softmax(false),
  LogSoftmax: softmax(true),
  LayerNormalization: ([x, scale, bias], { axis, epsilon }, { where }) => {
    const normalized = normalizeAxis(axis, x.shape.length, where);
    const normalizedShape = x.shape.slice(normalized);
    const size = sizeOf(normalizedShape);
    const parameterOffsets = [scale, bias].map((parameter) => {
      if (!parameter) return undefined;
      const broadcast = broadcastShapes([normalizedShape, parameter.shape], where);
      if (formatShape(broadcast) !== formatShape(normalizedShape)) {
        throw new ShapeError(`${where}: parameter shape ${formatShape(parameter.shape)} must broadcast to the normalised shape ${formatShape(normalizedShape)}.`);
      }
      return broadcastOffsets(parameter.shape, normalizedShape);
    });
    const [scaleOffsets, biasOffsets] = parameterOffsets;
    const data = new Float64Array(x.data.length);
    // Statistics in float64 whatever the dtype: ONNX's default stash_type is float32, a float64 reference is tighter.
    for (let start = 0; start < x.data.length; start += size) {
      const line = x.data.subarray(start, start + size);
      const mean = line.reduce((sum, value) => sum + value, 0) / size;
      const variance = line.reduce((sum, value) => sum + (value - mean) ** 2, 0) / size;
      const inverseDeviation = 1 / Math.sqrt(variance + epsilon);
      for (let i = 0; i < size; i++) {
        const shifted = (line[i] - mean) * inverseDeviation * scale.data[scaleOffsets![i]];
        data[start + i] = biasOffsets ? shifted + bias.data[biasOffsets[i]] : shifted;
      }
    }
    return [dense(x.dtype, x.shape, data)];
  },
  Trilu: ([x], { upper, k }) => {
    const [rows, columns] = x.shape.slice(-2);
    const data = x.data.map((value, flat) => {
      const column = flat % columns;
      const row = Math.floor(flat / columns) % rows;
      const keep = upper ? column - row >= k : column - row <= k;
      return keep ? value : 0;
    });
    return [dense(x.dtype, x.shape, data)];
  },
};
