import { allocate, hostTensor, type DType, type HostTensor } from './dtype.js';
import { GraphError } from './errors/graph-error.js';
import { inferOutputs } from './infer-outputs.js';
import type { Node } from './node.js';
import type { OpAttributes, OpName } from './op-set.js';
import type { Shape } from './shape.js';
import { Tensor } from './tensor.js';

/**
 * A computation graph under construction. Nodes are appended in
 * topological order (an op can only consume tensors that already exist), so
 * the node list is always a valid schedule, and autodiff can append gradient
 * nodes to the same graph.
 */
export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs = new Map<string, Tensor>();
  private nextTensorId = 0;

  /** A named graph input; symbolic dims (`'batch'`) are bound at run time. */
  input(name: string, shape: Shape, dtype: DType = 'float32'): Tensor {
    if (this.inputs.has(name)) throw new GraphError(`Graph input '${name}' is declared twice; give each input a unique name.`);
    const node: Node<'Input'> = { id: this.nodes.length, op: 'Input', inputs: [], attributes: { name }, outputs: [] };
    const tensor = new Tensor(this, this.nextTensorId++, node, 0, dtype, [...shape]);
    node.outputs.push(tensor);
    this.nodes.push(node);
    this.inputs.set(name, tensor);
    return tensor;
  }

  /** A constant from a host tensor, or from numbers with a shape. */
  constant(value: HostTensor): Tensor;
  constant(data: ArrayLike<number | bigint | boolean>, shape: readonly number[], dtype?: DType): Tensor;
  constant(value: HostTensor | ArrayLike<number | bigint | boolean>, shape?: readonly number[], dtype: DType = 'float32'): Tensor {
    const host = shape === undefined ? (value as HostTensor) : hostTensor(dtype, shape, value as ArrayLike<number>);
    return this.apply('Constant', [], { value: host })[0];
  }

  scalar(value: number, dtype: DType = 'float32'): Tensor {
    const data = allocate(dtype, 1);
    if (dtype === 'int64') (data as BigInt64Array)[0] = BigInt(value);
    else (data as Float32Array)[0] = value;
    return this.apply('Constant', [], { value: { dtype, shape: [], data } })[0];
  }

  /** Appends one primitive and returns its outputs. */
  apply<O extends OpName>(op: O, inputs: readonly Tensor[], attributes: OpAttributes[O]): Tensor[] {
    for (const input of inputs) {
      if (!(input instanceof Tensor)) throw new GraphError(`${op}: expected Tensor inputs, got ${String(input)}.`);
      if (input.graph !== this) {
        throw new GraphError(`${op}: input ${input} belongs to another graph; build each program's tensors in one Graph.`);
      }
    }
    const id = this.nodes.length;
    const types = inferOutputs(op, inputs, attributes, `${op} (node ${id})`);
    const node: Node<O> = { id, op, inputs: [...inputs], attributes: attributes as Node<O>['attributes'], outputs: [] };
    for (const [index, type] of types.entries()) {
      node.outputs.push(new Tensor(this, this.nextTensorId++, node as Node, index, type.dtype, type.shape));
    }
    this.nodes.push(node as Node);
    return node.outputs;
  }

  /** The nodes that `outputs` depend on, in schedule order. */
  ancestors(outputs: readonly Tensor[]): Node[] {
    const needed = new Set<Node>();
    const stack = outputs.map((tensor) => tensor.node);
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (needed.has(node)) continue;
      needed.add(node);
      for (const input of node.inputs) stack.push(input.node);
    }
    return this.nodes.filter((node) => needed.has(node));
  }
}
