import { hostTensor, type DType, type HostTensor } from '../dtype.js';
import { Graph } from '../graph.js';
import type { Tensor } from '../tensor.js';
import { evaluateGraph } from './evaluate.js';

export interface Result {
  dtype: DType;
  shape: readonly number[];
  values: number[];
}

export function result(tensor: HostTensor): Result {
  return { dtype: tensor.dtype, shape: tensor.shape, values: Array.from(tensor.data, Number) };
}

/** Builds a graph with `build` and evaluates its outputs with `feeds`. */
export function evaluate(build: (graph: Graph) => Tensor | Tensor[], feeds: Record<string, HostTensor> = {}): Result[] {
  const graph = new Graph();
  const built = build(graph);
  return evaluateGraph(graph, Array.isArray(built) ? built : [built], feeds).map(result);
}

export function evaluateOne(build: (graph: Graph) => Tensor, feeds: Record<string, HostTensor> = {}): Result {
  return evaluate(build, feeds)[0];
}

export const float64 = (shape: readonly number[], values: readonly number[]): HostTensor => hostTensor('float64', shape, values);
export const int64 = (shape: readonly number[], values: readonly number[]): HostTensor => hostTensor('int64', shape, values);

/** A float64 constant; most cases use float64 so that expected values are exact. */
export const constant = (graph: Graph, shape: readonly number[], values: readonly number[], dtype: DType = 'float64'): Tensor => graph.constant(values, shape, dtype);
