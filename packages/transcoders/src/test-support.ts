import { readFileSync } from 'node:fs';
import { add, evaluateGraph, grad, Graph, hostTensor, readSafetensors, Rng, toTypedArray, type ForwardOptions, type ForwardOutput, type HostTensor, type Tensor, type TensorMap } from '@nnd/core';
import type { Transcoder } from './transcoder.js';

/** Test helpers (not exported from the package). */

/** Every float tensor of a safetensors file, as float32 host tensors. */
export function readTensorFile(path: string): Map<string, HostTensor<'float32'>> {
  const tensors = new Map<string, HostTensor<'float32'>>();
  for (const [name, tensor] of readSafetensors(readFileSync(path)).tensors) {
    const data = toTypedArray(tensor);
    tensors.set(name, hostTensor('float32', tensor.shape, data instanceof Float32Array ? data : Float32Array.from(data as Float64Array)));
  }
  return tensors;
}

/** Largest |a - b| over the elements, relative to the largest |b| (the tensor's scale). */
export function relativeError(actual: HostTensor, expected: HostTensor): number {
  if (actual.data.length !== expected.data.length) return Infinity;
  const b = expected.data as Float32Array;
  const a = actual.data as Float32Array;
  let scale = 1e-12;
  for (const value of b) scale = Math.max(scale, Math.abs(value));
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / scale);
  return worst;
}

export interface BuiltTranscoderForward {
  graph: Graph;
  params: TensorMap;
  output: ForwardOutput;
  loss: Tensor;
}

/**
 * Declares x ('x'), y ('y'), every parameter (by name) and every state
 * tensor (`state.<name>`) as float64 inputs of a new graph and runs the
 * transcoder's forward pass.
 */
export function buildTranscoderForward(transcoder: Transcoder, batch: number, options: ForwardOptions = {}): BuiltTranscoderForward {
  const graph = new Graph();
  const { input_size: dIn, output_size: dOut } = transcoder.config;
  const x = graph.input('x', [batch, dIn], 'float64');
  const y = graph.input('y', [batch, dOut], 'float64');
  const params: TensorMap = {};
  for (const [name, tensor] of Object.entries(transcoder.initialParams(new Rng(0)))) params[name] = graph.input(name, tensor.shape, 'float64');
  const state: TensorMap = {};
  for (const [name, tensor] of Object.entries(transcoder.initialState())) state[name] = graph.input(`state.${name}`, tensor.shape, tensor.dtype);
  const output = transcoder.forward(graph, { inputs: { [transcoder.inputHook]: x }, targets: { [transcoder.outputHook]: y } }, params, state, options);
  const loss = Object.values(output.losses).reduce((total, term) => add(total, term));
  return { graph, params, output, loss };
}

/** Feeds for buildTranscoderForward's graph, in float64. */
export function transcoderFeeds(
  x: readonly number[] | Float32Array,
  y: readonly number[] | Float32Array,
  transcoder: Transcoder,
  params: Record<string, HostTensor>,
  state: Record<string, HostTensor> = transcoder.initialState(),
): Record<string, HostTensor> {
  const { input_size: dIn, output_size: dOut } = transcoder.config;
  const feeds: Record<string, HostTensor> = {
    x: hostTensor('float64', [x.length / dIn, dIn], Float64Array.from(x)),
    y: hostTensor('float64', [y.length / dOut, dOut], Float64Array.from(y)),
  };
  for (const [name, tensor] of Object.entries(params)) feeds[name] = hostTensor('float64', tensor.shape, Float64Array.from(tensor.data as Float32Array));
  for (const [name, tensor] of Object.entries(state)) feeds[`state.${name}`] = tensor;
  return feeds;
}

/** Evaluates named outputs with the reference interpreter, as plain arrays. */
export function evaluate(graph: Graph, outputs: Record<string, Tensor>, feeds: Record<string, HostTensor>): Record<string, number[]> {
  const names = Object.keys(outputs);
  const results = evaluateGraph(
    graph,
    names.map((name) => outputs[name]),
    feeds,
  );
  return Object.fromEntries(names.map((name, i) => [name, Array.from(results[i].data as Float64Array, Number)]));
}

/** Gradients of the summed loss with respect to every parameter, as outputs `grad.<name>`. */
export function gradientOutputs(built: BuiltTranscoderForward): Record<string, Tensor> {
  const names = Object.keys(built.params);
  const gradients = grad(
    built.loss,
    names.map((name) => built.params[name]),
  );
  return Object.fromEntries(names.map((name, i) => [`grad.${name}`, gradients[i]]));
}

/** A host float32 tensor from values. */
export function f32(shape: number[], values: readonly number[]): HostTensor {
  return hostTensor('float32', shape, Float32Array.from(values));
}
