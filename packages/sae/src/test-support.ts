import { add, evaluateGraph, Graph, grad, hostTensor, Rng, type Dim, type DType, type ForwardOutput, type HostTensor, type Tensor, type TensorMap } from '@nnd/core';
import type { SaeConfig } from './sae-config.js';
import type { SparseAutoencoder } from './sparse-autoencoder.js';

/** Test helpers (not exported from the package). */

function toDType(tensor: HostTensor, dtype: 'float32' | 'float64'): HostTensor {
  const data = dtype === 'float64' ? Float64Array.from(tensor.data as Float32Array) : Float32Array.from(tensor.data as Float64Array);
  return hostTensor(dtype, tensor.shape, data);
}

export function values(tensor: HostTensor): number[] {
  return Array.from(tensor.data as Float64Array, Number);
}

export function randomTensor(rng: Rng, shape: number[], dtype: 'float32' | 'float64' = 'float64', scale = 1, mean = 0): HostTensor {
  const size = shape.reduce((product, dim) => product * dim, 1);
  return toDType(hostTensor('float32', shape, rng.normal(size, mean, scale)), dtype);
}

export interface BuiltForward {
  graph: Graph;
  x: Tensor;
  params: TensorMap;
  state: TensorMap;
  /** The contract's output, with the SAE's one output as `reconstruction`. */
  output: ForwardOutput & { reconstruction: Tensor };
  /** Sum of the losses. */
  loss: Tensor;
}

/**
 * Declares x, every parameter (by its name) and every state tensor
 * (`state.<name>`, float32 as the trainer keeps them) as graph inputs and
 * runs the SAE's forward pass.
 */
export function buildForward(sae: SparseAutoencoder<SaeConfig>, batch: Dim, dtype: DType = 'float64'): BuiltForward {
  const graph = new Graph();
  const { act_size: actSize } = sae.config;
  const x = graph.input('x', [batch, actSize], dtype);
  const params: TensorMap = {};
  for (const [name, tensor] of Object.entries(sae.initialParams(new Rng(0)))) params[name] = graph.input(name, tensor.shape, dtype);
  const state: TensorMap = {};
  for (const [name, tensor] of Object.entries(sae.initialState())) state[name] = graph.input(`state.${name}`, tensor.shape, tensor.dtype);
  const forward = sae.forward(graph, { inputs: { [sae.hook]: x }, targets: { [sae.hook]: x } }, params, state);
  const output = { ...forward, reconstruction: forward.outputs[sae.hook] };
  const loss = Object.values(output.losses).reduce((total, term) => add(total, term));
  return { graph, x, params, state, output, loss };
}

export function forwardFeeds(x: HostTensor, params: Record<string, HostTensor>, state: Record<string, HostTensor>, dtype: 'float32' | 'float64' = 'float64'): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = { x: toDType(x, dtype) };
  for (const [name, tensor] of Object.entries(params)) feeds[name] = toDType(tensor, dtype);
  for (const [name, tensor] of Object.entries(state)) feeds[`state.${name}`] = tensor;
  return feeds;
}

/** Evaluates named outputs with the reference interpreter. */
export function evaluateNamed(graph: Graph, outputs: Record<string, Tensor>, feeds: Record<string, HostTensor>): Record<string, HostTensor> {
  const names = Object.keys(outputs);
  const results = evaluateGraph(
    graph,
    names.map((name) => outputs[name]),
    feeds,
  );
  return Object.fromEntries(names.map((name, i) => [name, results[i]]));
}

/** Gradients of the summed loss w.r.t. every parameter, as named outputs `grad.<name>`. */
export function gradientOutputs(built: BuiltForward): Record<string, Tensor> {
  const names = Object.keys(built.params);
  const gradients = grad(
    built.loss,
    names.map((name) => built.params[name]),
  );
  return Object.fromEntries(names.map((name, i) => [`grad.${name}`, gradients[i]]));
}

/** Largest |a - b| / max(|b|-scale, floor) over the elements. */
export function maxRelativeError(actual: HostTensor | number[], expected: HostTensor | number[]): number {
  const a = Array.isArray(actual) ? actual : values(actual);
  const b = Array.isArray(expected) ? expected : values(expected);
  if (a.length !== b.length) return Infinity;
  const scale = Math.max(1e-12, ...b.map(Math.abs));
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / scale);
  return worst;
}
