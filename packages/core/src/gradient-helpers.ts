import type { DType } from './dtype.js';
import type { Graph } from './graph.js';
import { cast, expand, reshape, shapeOf } from './primitives.js';
import type { Dim, Shape } from './shape.js';
import type { Tensor } from './tensor.js';

/** Zeros of a possibly symbolic shape (a broadcast scalar; no memory until used). */
export function zeros(graph: Graph, shape: Shape, dtype: DType): Tensor {
  return expand(graph.scalar(0, dtype), shape);
}

/** The size of one axis as a scalar of `dtype`, read at run time when symbolic. */
export function axisSize(x: Tensor, axis: number, dtype: DType = x.dtype): Tensor {
  const dim: Dim = x.shape[axis];
  if (typeof dim === 'number') return x.graph.scalar(dim, dtype);
  return cast(reshape(shapeOf(x, axis, axis + 1), []), dtype);
}

/** Product of the sizes of several axes (element counts for means). */
export function axesSize(x: Tensor, axes: readonly number[], dtype: DType = x.dtype): Tensor {
  let product: Tensor | undefined;
  let constant = 1;
  for (const axis of axes) {
    const dim = x.shape[axis];
    if (typeof dim === 'number') constant *= dim;
    else {
      const size = axisSize(x, axis, dtype);
      product = product ? x.graph.apply('Mul', [product, size], {})[0] : size;
    }
  }
  const constantTensor = x.graph.scalar(constant, dtype);
  return product ? x.graph.apply('Mul', [product, constantTensor], {})[0] : constantTensor;
}
