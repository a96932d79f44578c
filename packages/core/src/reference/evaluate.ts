import type { HostTensor } from '../dtype.js';
import { DTypeError } from '../errors/dtype-error.js';
import { GraphError } from '../errors/graph-error.js';
import { ShapeError } from '../errors/shape-error.js';
import type { Graph } from '../graph.js';
import type { Node } from '../node.js';
import type { OpName } from '../op-set.js';
import { dimFactors, formatShape, mulDims, type Dim } from '../shape.js';
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

function isLoneSymbol(dim: Dim): boolean {
  const { coefficient, symbols } = dimFactors(dim);
  return typeof dim === 'string' && coefficient === 1 && symbols.length === 1;
}

/**
 * Symbol sizes seen so far. A symbol is bound by the first tensor in schedule
 * order that carries it as a whole dimension (as `symbolSources` says), and
 * every later carrier is checked against it.
 */
class SymbolBindings {
  private readonly sizes = new Map<string, { size: number; origin: string }>();

  constructor(private readonly where: string) {}

  lookup(dim: string): number | undefined {
    const key = String(mulDims(dim));
    const whole = this.sizes.get(key);
    if (whole) return whole.size;
    const { coefficient, symbols } = dimFactors(key);
    let size = coefficient;
    for (const symbol of symbols) {
      const bound = this.sizes.get(symbol);
      if (!bound) return undefined;
      size *= bound.size;
    }
    return size;
  }

  resolve(dim: Dim, where: string): number {
    if (typeof dim === 'number') return dim;
    const size = this.lookup(dim);
    if (size === undefined) throw new ShapeError(`${where}: symbolic dimension '${dim}' is not bound by any tensor evaluated before it.`);
    return size;
  }

  bindOrCheck(dim: string, size: number, origin: string): void {
    const known = this.lookup(dim);
    if (known === undefined) this.sizes.set(String(mulDims(dim)), { size, origin });
    else if (known !== size) {
      const first = this.sizes.get(String(mulDims(dim)))?.origin ?? 'its factors';
      throw new ShapeError(`${this.where}: symbolic dimension '${dim}' is ${known} in ${first} but ${size} in ${origin}; every tensor must agree on it.`);
    }
  }

  /** Checks a runtime shape against a declared one, binding new symbols. */
  match(declared: readonly Dim[], actual: readonly number[], origin: string): void {
    if (declared.length !== actual.length || declared.some((dim, axis) => typeof dim === 'number' && dim !== actual[axis])) {
      throw new ShapeError(`${this.where}: ${origin} has shape ${formatShape(actual)}, but the graph declares ${formatShape(declared)}.`);
    }
    // Lone symbols first, so that products such as 'batch*3' are checked against their factors.
    const order = declared.map((_, axis) => axis).filter((axis) => typeof declared[axis] === 'string');
    order.sort((p, q) => Number(!isLoneSymbol(declared[p])) - Number(!isLoneSymbol(declared[q])));
    for (const axis of order) this.bindOrCheck(declared[axis] as string, actual[axis], `${origin} (axis ${axis})`);
  }
}

function bindFeeds(plan: EvaluationPlan, feeds: Record<string, HostTensor>, bindings: SymbolBindings, where: string): Map<Tensor, DenseTensor> {
  const expected = `expected feeds: ${plan.inputNames.map((name) => `'${name}'`).join(', ') || 'none'}`;
  for (const name of Object.keys(feeds)) {
    if (!plan.graph.inputs.has(name)) throw new GraphError(`${where}: '${name}' is not a graph input; ${expected}.`);
  }
  const values = new Map<Tensor, DenseTensor>();
  const required = plan.inputNames.map((name) => plan.graph.inputs.get(name)!);
  // Lone symbols bind across all inputs before products are checked.
  const hasProducts = (input: Tensor) => Number(input.shape.some((dim) => typeof dim === 'string' && !isLoneSymbol(dim)));
  for (const input of [...required].sort((p, q) => hasProducts(p) - hasProducts(q))) {
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
  const bindings = new SymbolBindings(where);
  const values = bindFeeds(plan, feeds, bindings, where);
  for (const node of plan.schedule) {
    if (node.op === 'Input') continue;
    const nodeWhere = `${node.op} (node ${node.id})`;
    const context: KernelContext = { where: nodeWhere, resolve: (dim) => bindings.resolve(dim, nodeWhere) };
    const kernel = KERNELS[node.op] as Kernel<OpName>;
    const results = kernel(node.inputs.map((input) => values.get(input)!), node.attributes as never, context);
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
