import type { HostTensor } from '../dtype.js';
import { DTypeError } from '../errors/dtype-error.js';
import { GraphError } from '../errors/graph-error.js';
import type { Graph } from '../graph.js';
import type { Node } from '../node.js';
import type { OpName } from '../op-set.js';
import { SymbolBindings, loneSymbolsFirst } from '../symbol-bindings.js';
import { Tensor } from '../tensor.js';
import { fromHost, storeAs, toHost, type DenseTensor, type Kernel, type KernelContext } from './dense.js';
import { KERNELS } from './kernels.js';

/** The nodes to run for some outputs and the graph inputs they read. */
export interface EvaluationPlan {
  readonly graph: Graph;
  readonly schedule: readonly Node[];
  readonly inputNames: readonly string[];
}

export function planEvaluation(graph: Graph, outputs: readonly Tensor[], where: string): EvaluationPlan {
  for (const output of outputs) {
    if (!(output instanceof Tensor) || output.graph !== graph) {
      throw new GraphError(`${where}: output ${String(output)} is not a tensor of this graph.`);
    }
  }
  const schedule = graph.ancestors(outputs);
  const inputNames = schedule.flatMap((node) => (node.op === 'Input' ? [(node.attributes as { name: string }).name] : []));
  return { graph, schedule, inputNames };
}

function bindFeeds(plan: EvaluationPlan, feeds: Record<string, HostTensor>, bindings: SymbolBindings, where: string): Map<Tensor, DenseTensor> {
  const expected = `expected feeds: ${plan.inputNames.map((name) => `'${name}'`).join(', ') || 'none'}`;
  for (const name of Object.keys(feeds)) {
    if (!plan.graph.inputs.has(name)) throw new GraphError(`${where}: '${name}' is not a graph input; ${expected}.`);
  }
  const values = new Map<Tensor, DenseTensor>();
  const required = plan.inputNames.map((name) => plan.graph.inputs.get(name)!);
  // Lone symbols bind across all inputs before products are checked.
  for (const input of loneSymbolsFirst(required, (tensor) => tensor.shape)) {
    const name = (input.node.attributes as { name: string }).name;
    const feed = feeds[name];
    if (feed === undefined) throw new GraphError(`${where}: missing feed for graph input '${name}'; ${expected}.`);
    if (feed.dtype !== input.dtype) {
      throw new DTypeError(`${where}: feed '${name}' has dtype ${feed.dtype}, but the graph input is ${input.dtype}. Cast it before feeding.`);
    }
    const value = fromHost(feed, `${where}: feed '${name}'`);
    bindings.match(input.shape, value.shape, `feed '${name}'`);
    values.set(input, value);
  }
  return values;
}

export function executePlan(plan: EvaluationPlan, outputs: readonly Tensor[], feeds: Record<string, HostTensor>, where: string): HostTensor[] {
  const bindings = new SymbolBindings(where, 'evaluated');
  const values = bindFeeds(plan, feeds, bindings, where);
  for (const node of plan.schedule) {
    if (node.op === 'Input') continue;
    const nodeWhere = `${node.op} (node ${node.id})`;
    const context: KernelContext = { where: nodeWhere, resolve: (dim) => bindings.resolve(dim, nodeWhere) };
    const kernel = KERNELS[node.op] as Kernel<OpName>;
    const results = kernel(
      node.inputs.map((input) => values.get(input)!),
      node.attributes as never,
      context,
    );
    node.outputs.forEach((output, i) => {
      const result = results[i];
      bindings.match(output.shape, result.shape, `${nodeWhere} output ${i}`);
      // Once per op, as an engine stores each op's result: float32 results match a float32 engine closely.
      values.set(output, storeAs(output.dtype, result.shape, result.data));
    });
  }
  return outputs.map((output) => toHost(values.get(output)!));
}

/**
 * Evaluates `outputs` in float64 (float32 results rounded per op), running
 * only their ancestors. Feeds are checked against the declared inputs:
 * missing (GraphError), wrong dtype (DTypeError), wrong rank, size or
 * inconsistent symbol (ShapeError).
 */
export function evaluateGraph(graph: Graph, outputs: readonly Tensor[], feeds: Record<string, HostTensor>): HostTensor[] {
  const plan = planEvaluation(graph, outputs, 'evaluateGraph');
  return executePlan(plan, outputs, feeds, 'evaluateGraph');
}
