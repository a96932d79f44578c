import { describe, expect, it } from 'vitest';
import * as nn from '../primitives.js';
import { isDeviceTensor } from '../backend.js';
import { BackendError } from '../errors/backend-error.js';
import { GraphError } from '../errors/graph-error.js';
import { Graph } from '../graph.js';
import { createReferenceBackend } from './backend.js';
import { float64, result } from './test-support.js';

function buildGraph() {
  const graph = new Graph();
  const x = graph.input('x', ['batch', 2], 'float64');
  const y = graph.input('y', [2], 'float64');
  graph.input('unused', [1], 'float64');
  return { graph, sum: nn.add(x, y), total: nn.reduceSum(x) };
}

describe('createReferenceBackend', () => {
  it('describes itself', () => {
    const backend = createReferenceBackend();
    expect(backend.specificationVersion).toBe('nnd-backend-v1');
    expect(backend.name).toBe('reference');
    expect(backend.capabilities).toEqual({ dtypes: ['float32', 'float64', 'int64', 'bool'], device: 'cpu', deviceResidentTensors: false });
  });

  it('compiles a program that needs only the inputs its outputs read', async () => {
    const { graph, sum, total } = buildGraph();
    const program = await createReferenceBackend().compile(graph, { outputs: { sum, total } });
    expect(program.inputNames).toEqual(['x', 'y']);
    expect(program.outputNames).toEqual(['sum', 'total']);
    const onlyTotal = await createReferenceBackend().compile(graph, { outputs: { total } });
    expect(onlyTotal.inputNames).toEqual(['x']);
  });

  it('runs with host and device feeds and returns device tensors by name', async () => {
    const backend = createReferenceBackend();
    const { graph, sum, total } = buildGraph();
    const program = await backend.compile(graph, { outputs: { sum, total } });
    const x = await backend.upload(float64([2, 2], [1, 2, 3, 4]));
    expect(isDeviceTensor(x)).toBe(true);
    expect(x.location).toBe('cpu');
    const outputs = await program.run({ x, y: float64([2], [10, 20]) });
    expect(Object.keys(outputs)).toEqual(['sum', 'total']);
    expect(outputs.sum.shape).toEqual([2, 2]);
    expect(result(await outputs.sum.toHost()).values).toEqual([11, 22, 13, 24]);
    expect(result(await outputs.total.toHost())).toEqual({ dtype: 'float64', shape: [], values: [10] });
  });

  it('reports feed errors, disposed tensors and disposed programs', async () => {
    const backend = createReferenceBackend();
    const { graph, sum } = buildGraph();
    const program = await backend.compile(graph, { outputs: { sum } });
    await expect(program.run({ x: float64([1, 2], [1, 2]) })).rejects.toThrow(GraphError);
    const x = await backend.upload(float64([1, 2], [1, 2]));
    x.dispose();
    await expect(program.run({ x, y: float64([2], [1, 2]) })).rejects.toThrow(BackendError);
    await program.dispose();
    await expect(program.run({ x: float64([1, 2], [1, 2]), y: float64([2], [1, 2]) })).rejects.toThrow(BackendError);
    await expect(backend.compile(graph, { outputs: { sum }, hostOutputs: ['loss'] })).rejects.toThrow(GraphError);
  });
});
