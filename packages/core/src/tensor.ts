import type { DType } from './dtype.js';
import type { Node } from './node.js';
import type { Graph } from './graph.js';
import type { Shape } from './shape.js';

/** A value in a graph: one output of one node. Immutable. */
export class Tensor {
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly node: Node,
    readonly outputIndex: number,
    readonly dtype: DType,
    readonly shape: Shape,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  toString(): string {
    return `Tensor#${this.id}(${this.node.op}, ${this.dtype}[${this.shape.join(', ')}])`;
  }
}
