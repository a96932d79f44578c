import { sizeOf } from '../dtype.js';
import { ShapeError } from '../errors/shape-error.js';
import { broadcastShapes, formatShape, normalizeAxis } from '../shape.js';
import { aroundAxis, broadcastOffsets, dense, gatherOffsets, stridesOf, viewOffsets, type DenseTensor, type Kernel } from './dense.js';

type LayoutOp = 'Reshape' | 'Transpose' | 'Unsqueeze' | 'Squeeze' | 'Concat' | 'Slice' | 'Expand' | 'Shape' | 'Range';

const reshaped = (x: DenseTensor, shape: readonly number[]): DenseTensor => dense(x.dtype, shape, x.data);

/** Start and element count along one axis, clamped as the ONNX Slice spec describes. */
function sliceBounds(size: number, start: number, end: number, step: number): { first: number; count: number } {
  const clamp = (value: number, low: number, high: number) => Math.min(Math.max(value, low), high);
  const from = start < 0 ? start + size : start;
  const to = end < 0 ? end + size : end;
  // A negative step walks from at most the last element down to at least "before the first" (-1).
  const first = step > 0 ? clamp(from, 0, size) : clamp(from, 0, size - 1);
  const last = step > 0 ? clamp(to, 0, size) : clamp(to, -1, size - 1);
  return { first, count: Math.max(0, Math.ceil((last - first) / step)) };
}

export const LAYOUT_KERNELS: { [O in LayoutOp]: Kernel<O> } = {
  Reshape: ([x], { shape }, { resolve, where }) => {
    const target = shape.map((dim) => (dim === -1 ? -1 : resolve(dim)));
    const known = sizeOf(target.filter((dim) => dim !== -1));
    const inferred = target.includes(-1) ? x.data.length / known : known;
    if (!Number.isInteger(inferred) || sizeOf(target.map((dim) => (dim === -1 ? inferred : dim))) !== x.data.length) {
      throw new ShapeError(`${where}: cannot reshape ${formatShape(x.shape)} (${x.data.length} elements) to ${formatShape(shape)} = ${formatShape(target)}.`);
    }
    return [
      reshaped(
        x,
        target.map((dim) => (dim === -1 ? inferred : dim)),
      ),
    ];
  },
  Transpose: ([x], { perm }) => {
    const strides = stridesOf(x.shape);
    const shape = perm.map((axis) => x.shape[axis]);
    return [
      dense(
        x.dtype,
        shape,
        gatherOffsets(
          x,
          viewOffsets(
            shape,
            perm.map((axis) => strides[axis]),
          ),
        ),
      ),
    ];
  },
  Unsqueeze: ([x], { axes }, { where }) => {
    const rank = x.shape.length + axes.length;
    const inserted = new Set(axes.map((axis) => normalizeAxis(axis, rank, where)));
    const shape: number[] = [];
    let next = 0;
    for (let axis = 0; axis < rank; axis++) shape.push(inserted.has(axis) ? 1 : x.shape[next++]);
    return [reshaped(x, shape)];
  },
  Squeeze: ([x], { axes }, { where }) => {
    const removed = new Set(axes.map((axis) => normalizeAxis(axis, x.shape.length, where)));
    for (const axis of removed) {
      if (x.shape[axis] !== 1) throw new ShapeError(`${where}: cannot squeeze axis ${axis} of ${formatShape(x.shape)}: its size is not 1.`);
    }
    return [
      reshaped(
        x,
        x.shape.filter((_, axis) => !removed.has(axis)),
      ),
    ];
  },
  Concat: (inputs, { axis }, { where }) => {
    const normalized = normalizeAxis(axis, inputs[0].shape.length, where);
    const shape = [...inputs[0].shape];
    for (const input of inputs) {
      if (input.shape.length !== shape.length || input.shape.some((dim, i) => i !== normalized && dim !== shape[i])) {
        throw new ShapeError(`${where}: Concat operands ${inputs.map((input) => formatShape(input.shape)).join(', ')} differ outside axis ${normalized}.`);
      }
    }
    shape[normalized] = inputs.reduce((total, input) => total + input.shape[normalized], 0);
    const { outer } = aroundAxis(shape, normalized);
    const data = new Float64Array(sizeOf(shape));
    let offset = 0;
    for (let block = 0; block < outer; block++) {
      for (const input of inputs) {
        const length = input.data.length / outer;
        data.set(input.data.subarray(block * length, (block + 1) * length), offset);
        offset += length;
      }
    }
    return [dense(inputs[0].dtype, shape, data)];
  },
  Slice: ([x], { starts, ends, axes, steps }, { resolve, where }) => {
    const inputStrides = stridesOf(x.shape);
    const shape = [...x.shape];
    const strides = [...inputStrides];
    let base = 0;
    axes.forEach((axis, i) => {
      const normalized = normalizeAxis(axis, x.shape.length, where);
      if (steps[i] === 0) throw new ShapeError(`${where}: slice step must not be 0.`);
      const { first, count } = sliceBounds(x.shape[normalized], resolve(starts[i]), resolve(ends[i]), steps[i]);
      shape[normalized] = count;
      strides[normalized] = inputStrides[normalized] * steps[i];
      base += first * inputStrides[normalized];
    });
    return [dense(x.dtype, shape, gatherOffsets(x, viewOffsets(shape, strides, base)))];
  },
  Expand: ([x], { shape }, { resolve, where }) => {
    const target = broadcastShapes([x.shape, shape.map(resolve)], where) as number[];
    return [dense(x.dtype, target, gatherOffsets(x, broadcastOffsets(x.shape, target)))];
  },
  Shape: ([x], { start, end }) => {
    const rank = x.shape.length;
    const clamp = (value: number) => Math.min(Math.max(value < 0 ? value + rank : value, 0), rank);
    const dims = x.shape.slice(clamp(start), clamp(end ?? rank));
    return [dense('int64', [dims.length], Float64Array.from(dims))];
  },
  Range: ([start, limit, delta], _attributes, { where }) => {
    const [first, stop, step] = [start.data[0], limit.data[0], delta.data[0]];
    if (step === 0) throw new ShapeError(`${where}: Range delta must not be 0.`);
    const count = Math.max(0, Math.ceil((stop - first) / step));
    return [
      dense(
        start.dtype,
        [count],
        Float64Array.from({ length: count }, (_, i) => first + i * step),
      ),
    ];
  },
};
