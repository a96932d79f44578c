import type { Node } from './node.js';
import type { Tensor } from './tensor.js';

/**
 * For every symbol that appears in the given nodes' shapes, the first tensor
 * (in schedule order) that carries it as a whole dimension, and the axis.
 * Compilers read symbolic sizes at run time from there (ONNX `Shape`), so a
 * reshape to `['batch*seq', 64]` or a slice to `'seq'` needs no special case.
 */
export function symbolSources(nodes: readonly Node[]): Map<string, { tensor: Tensor; axis: number }> {
  const sources = new Map<string, { tensor: Tensor; axis: number }>();
  for (const node of nodes) {
    for (const tensor of node.outputs) {
      tensor.shape.forEach((dim, axis) => {
        if (typeof dim === 'string' && !sources.has(dim)) sources.set(dim, { tensor, axis });
      });
    }
  }
  return sources;
}
