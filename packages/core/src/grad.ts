import { isFloatDType } from './dtype.js';
import { GraphError } from './errors/graph-error.js';
import { ShapeError } from './errors/shape-error.js';
import { zeros } from './gradient-helpers.js';
import { GRADIENT_RULES, type GradientRule, type RuleContext } from './gradient-rules.js';
import type { Node } from './node.js';
import type { OpName } from './op-set.js';
import { add, reduceSum, reshape } from './primitives.js';
import { dimsEqual, formatShape, type Shape } from './shape.js';
import type { Tensor } from './tensor.js';

/**
 * Undoes broadcasting: sums a gradient over the axes along which the input
 * was broadcast. The only place that knows about broadcasting, so rules may
 * return gradients of the broadcast shape.
 */
export function unbroadcast(gradient: Tensor, shape: Shape): Tensor {
  if (gradient.rank === shape.length && gradient.shape.every((dim, i) => dimsEqual(dim, shape[i]))) return gradient;
  const extra = gradient.rank - shape.length;
  if (extra < 0) {
    throw new ShapeError(`grad: a gradient of shape ${formatShape(gradient.shape)} cannot flow to an input of shape ${formatShape(shape)}.`);
  }
  const axes: number[] = [];
  for (let axis = 0; axis < gradient.rank; axis++) {
    if (axis < extra) axes.push(axis);
    else if (shape[axis - extra] === 1 && gradient.shape[axis] !== 1) axes.push(axis);
  }
  const summed = axes.length > 0 ? reduceSum(gradient, axes, true) : gradient;
  return reshape(
    summed,
    shape.map((dim) => (dim === 1 ? 1 : dim)),
  );
}

/**
 * Reverse-mode autodiff: appends to loss's graph the nodes computing
 * d(loss)/d(each of `wrt`) and returns them. `loss` must be a scalar unless a
 * `cotangent` of its shape is given. Inputs that the loss does not depend on
 * get zeros.
 */
export function grad(loss: Tensor, wrt: readonly Tensor[], options: { cotangent?: Tensor } = {}): Tensor[] {
  const graph = loss.graph;
  if (!isFloatDType(loss.dtype)) throw new GraphError(`grad: the loss has dtype ${loss.dtype}; differentiate a float32 or float64 tensor.`);
  if (options.cotangent === undefined && loss.rank !== 0) {
    throw new ShapeError(`grad: the loss has shape ${formatShape(loss.shape)}; reduce it to a scalar or pass options.cotangent.`);
  }
  for (const target of wrt) {
    if (target.graph !== graph) throw new GraphError(`grad: ${target} belongs to another graph than the loss.`);
  }

  // Only nodes on a path from some `wrt` to the loss need gradients.
  const nodes = graph.ancestors([loss]);
  const wrtIds = new Set(wrt.map((tensor) => tensor.id));
  const reaches = new Set<number>();
  for (const node of nodes) {
    for (const output of node.outputs) {
      if (wrtIds.has(output.id) || node.inputs.some((input) => reaches.has(input.id))) {
        if (isFloatDType(output.dtype)) reaches.add(output.id);
      }
    }
  }

  const cotangents = new Map<number, Tensor>();
  const accumulate = (tensor: Tensor, gradient: Tensor) => {
    const shaped = unbroadcast(gradient, tensor.shape);
    const existing = cotangents.get(tensor.id);
    cotangents.set(tensor.id, existing ? add(existing, shaped) : shaped);
  };
  accumulate(loss, options.cotangent ?? graph.scalar(1, loss.dtype));

  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    if (node.op === 'Input') continue;
    const outputCotangents = node.outputs.map((output) => cotangents.get(output.id));
    if (outputCotangents.every((cotangent) => cotangent === undefined)) continue;
    const needs = node.inputs.map((input) => reaches.has(input.id));
    if (!needs.some(Boolean)) continue;
    const op = node.op as OpName;
    const rule = GRADIENT_RULES[op] as GradientRule<OpName>;
    const context: RuleContext<OpName> = {
      graph,
      node: node as Node<OpName>,
      attributes: (node as Node<OpName>).attributes,
      inputs: node.inputs,
      outputs: node.outputs,
      cotangents: outputCotangents,
      needs,
    };
    const gradients = rule(context);
    node.inputs.forEach((input, index) => {
      const gradient = gradients[index];
      if (gradient !== undefined && needs[index]) accumulate(input, gradient);
    });
  }
  return wrt.map((tensor) => cotangents.get(tensor.id) ?? zeros(graph, tensor.shape, tensor.dtype));
}
