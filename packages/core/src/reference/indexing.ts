import { sizeOf } from '../dtype.js';
import { ShapeError } from '../errors/shape-error.js';
import { formatShape, normalizeAxis } from '../shape.js';
import { aroundAxis, checkedIndex, dense, stridesOf, type DenseTensor, type Kernel } from './dense.js';

type IndexingOp = 'Gather' | 'GatherElements' | 'ScatterElements' | 'ScatterND' | 'TopK';

/**
 * For each element of `indices` (same rank as `data`), the offset in `data`
 * of that element's position with the `axis` coordinate replaced by its value.
 */
function elementTargets(data: DenseTensor, indices: DenseTensor, axis: number, where: string): number[] {
  const dataStrides = stridesOf(data.shape);
  const indexStrides = stridesOf(indices.shape);
  return Array.from(indices.data, (value, flat) => {
    let offset = 0;
    for (let dimension = 0; dimension < indices.shape.length; dimension++) {
      const coordinate = Math.floor(flat / indexStrides[dimension]) % indices.shape[dimension];
      if (dimension !== axis && coordinate >= data.shape[dimension]) {
        throw new ShapeError(`${where}: indices shape ${formatShape(indices.shape)} exceeds data shape ${formatShape(data.shape)} on axis ${dimension}.`);
      }
      offset += (dimension === axis ? checkedIndex(value, data.shape[axis], where) : coordinate) * dataStrides[dimension];
    }
    return offset;
  });
}

function accumulate(data: Float64Array, offset: number, update: number, reduction: 'none' | 'add'): void {
  data[offset] = reduction === 'add' ? data[offset] + update : update;
}

/** -1, 0 or 1 with NaN above every number, so that the order is total. */
function compareValues(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number(Number.isNaN(a)) - Number(Number.isNaN(b));
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Positions ordered by value, ties by lower index first, as the ONNX TopK spec requires. */
function topOrder(values: readonly number[], largest: boolean): number[] {
  const direction = largest ? -1 : 1;
  return values.map((_, index) => index).sort((p, q) => direction * compareValues(values[p], values[q]) || p - q);
}

export const INDEXING_KERNELS: { [O in IndexingOp]: Kernel<O> } = {
  Gather: ([x, indices], { axis }, { where }) => {
    const normalized = normalizeAxis(axis, x.shape.length, where);
    const { outer, size, inner } = aroundAxis(x.shape, normalized);
    const shape = [...x.shape.slice(0, normalized), ...indices.shape, ...x.shape.slice(normalized + 1)];
    const data = new Float64Array(sizeOf(shape));
    const count = indices.data.length;
    for (let block = 0; block < outer; block++) {
      for (let i = 0; i < count; i++) {
        const from = (block * size + checkedIndex(indices.data[i], size, where)) * inner;
        data.set(x.data.subarray(from, from + inner), (block * count + i) * inner);
      }
    }
    return [dense(x.dtype, shape, data)];
  },
  GatherElements: ([x, indices], { axis }, { where }) => {
    const targets = elementTargets(x, indices, normalizeAxis(axis, x.shape.length, where), where);
    return [
      dense(
        x.dtype,
        indices.shape,
        Float64Array.from(targets, (offset) => x.data[offset]),
      ),
    ];
  },
  ScatterElements: ([x, indices, updates], { axis, reduction }, { where }) => {
    if (formatShape(indices.shape) !== formatShape(updates.shape)) {
      throw new ShapeError(`${where}: indices ${formatShape(indices.shape)} and updates ${formatShape(updates.shape)} must have the same shape.`);
    }
    const data = x.data.slice();
    elementTargets(x, indices, normalizeAxis(axis, x.shape.length, where), where).forEach((offset, i) => accumulate(data, offset, updates.data[i], reduction));
    return [dense(x.dtype, x.shape, data)];
  },
  ScatterND: ([x, indices, updates], { reduction }, { where }) => {
    const depth = indices.shape[indices.shape.length - 1];
    const strides = stridesOf(x.shape);
    const sliceSize = sizeOf(x.shape.slice(depth));
    const tuples = sizeOf(indices.shape.slice(0, -1));
    if (updates.data.length !== tuples * sliceSize) {
      throw new ShapeError(`${where}: updates ${formatShape(updates.shape)} must have shape ${formatShape([...indices.shape.slice(0, -1), ...x.shape.slice(depth)])}.`);
    }
    const data = x.data.slice();
    for (let tuple = 0; tuple < tuples; tuple++) {
      let offset = 0;
      for (let j = 0; j < depth; j++) offset += checkedIndex(indices.data[tuple * depth + j], x.shape[j], where) * strides[j];
      for (let element = 0; element < sliceSize; element++) accumulate(data, offset + element, updates.data[tuple * sliceSize + element], reduction);
    }
    return [dense(x.dtype, x.shape, data)];
  },
  TopK: ([x, kTensor], { axis, largest }, { where }) => {
    const normalized = normalizeAxis(axis, x.shape.length, where);
    const { outer, size, inner } = aroundAxis(x.shape, normalized);
    const k = kTensor.data[0];
    if (kTensor.data.length !== 1 || !Number.isInteger(k) || k < 0 || k > size) {
      throw new ShapeError(`${where}: k must be one integer in [0, ${size}] (the size of axis ${axis} of ${formatShape(x.shape)}), got [${Array.from(kTensor.data).join(', ')}].`);
    }
    const shape = x.shape.map((dim, i) => (i === normalized ? k : dim));
    const values = new Float64Array(sizeOf(shape));
    const positions = new Float64Array(values.length);
    for (let block = 0; block < outer; block++) {
      for (let j = 0; j < inner; j++) {
        const line = Array.from({ length: size }, (_, i) => x.data[(block * size + i) * inner + j]);
        // Always sorted: ONNX leaves the order unspecified when sorted is false, so sorted is valid.
        topOrder(line, largest)
          .slice(0, k)
          .forEach((index, rank) => {
            values[(block * k + rank) * inner + j] = line[index];
            positions[(block * k + rank) * inner + j] = index;
          });
      }
    }
    return [dense(x.dtype, shape, values), dense('int64', shape, positions)];
  },
};
