import {
  BackendError,
  ConfigError,
  DTypeError,
  Graph,
  GraphError,
  ShapeError,
  add,
  cast,
  gather,
  hostTensor,
  matmul,
  mul,
  pow,
  relu,
  reshape,
  slice,
  softmax,
  sub,
  topk,
  type HostTensor,
} from '@nnd/core';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTfjsBackend, tfjsBackend, type TfjsBackend } from './index.js';

const values = (tensor: HostTensor) => Array.from(tensor.data as Float32Array, Number);
const float32 = (shape: number[], data: number[]) => hostTensor('float32', shape, data);

/** y = relu(x W + b): the graph most tests run. */
function denseLayer() {
  const graph = new Graph();
  const x = graph.input('x', ['batch', 2]);
  const w = graph.constant([1, -1, 2, 0.5], [2, 2]);
  const y = relu(add(matmul(x, w), graph.constant([0.5, -1], [2])));
  return { graph, x, y };
}

describe.each(['wasm', 'cpu'] as const)('createTfjsBackend (%s)', (runtime) => {
  let backend: TfjsBackend;
  beforeAll(async () => {
    backend = await createTfjsBackend({ runtime });
  });
  afterAll(() => backend.dispose());

  it('describes itself by the v1 backend spec and names its runtime', () => {
    expect(backend.specificationVersion).toBe('nnd-backend-v1');
    expect(backend.runtime).toBe(runtime);
    expect(backend.name).toBe(`tfjs-${runtime}`);
    expect(backend.capabilities).toEqual({ dtypes: ['float32', 'int64', 'bool'], device: 'cpu', deviceResidentTensors: true });
  });

  it('runs a dense layer and matches hand-computed values', async () => {
    const { graph, y } = denseLayer();
    const program = await backend.compile(graph, { outputs: { y, probabilities: softmax(y) } });
    expect(program.inputNames).toEqual(['x']);
    expect(program.outputNames).toEqual(['y', 'probabilities']);
    const result = await program.run({ x: float32([2, 2], [1, 2, -1, 1]) });
    // [1, 2] W = [5, 0] -> + b = [5.5, -1] -> relu; [-1, 1] W = [1, 1.5] -> [1.5, 0.5].
    expect(values(await result.y.toHost())).toEqual([5.5, 0, 1.5, 0.5]);
    const probabilities = values(await result.probabilities.toHost());
    expect(probabilities[0]).toBeCloseTo(Math.exp(5.5) / (Math.exp(5.5) + 1), 6);
    expect(probabilities[2] + probabilities[3]).toBeCloseTo(1, 6);
    Object.values(result).forEach((tensor) => tensor.dispose());
    await program.dispose();
  });

  it('computes TopK and Gather by hand, with int64 indices as BigInt64Array', async () => {
    const graph = new Graph();
    const x = graph.input('x', [2, 4]);
    const { values: top, indices } = topk(x, 2);
    const rows = gather(graph.constant([10, 20, 30, 40], [4]), indices);
    const program = await backend.compile(graph, { outputs: { top, indices, rows } });
    const result = await program.run({ x: float32([2, 4], [3, 1, 4, 1, 5, 9, 2, 6]) });
    expect(values(await result.top.toHost())).toEqual([4, 3, 9, 6]);
    expect(await result.indices.toHost()).toEqual({ dtype: 'int64', shape: [2, 2], data: BigInt64Array.from([2n, 0n, 1n, 3n]) });
    expect(values(await result.rows.toHost())).toEqual([30, 10, 20, 40]);
    Object.values(result).forEach((tensor) => tensor.dispose());
    await program.dispose();
  });

  it("reshapes to 'batch*seq' and slices to a symbolic end for several sizes", async () => {
    const graph = new Graph();
    const x = graph.input('x', ['batch', 'seq', 2]);
    const positions = graph.constant([0, 100, 200, 300, 400, 500], [6]);
    const flat = reshape(x, ['batch*seq', 2]);
    const offsets = slice(positions, { starts: [0], ends: ['seq'] });
    const program = await backend.compile(graph, { outputs: { flat, shifted: add(x, reshape(offsets, ['seq', 1])) } });
    for (const [batch, seq] of [
      [1, 3],
      [2, 5],
    ]) {
      const data = Array.from({ length: batch * seq * 2 }, (_, i) => i);
      const result = await program.run({ x: float32([batch, seq, 2], data) });
      const flatHost = await result.flat.toHost();
      expect(flatHost.shape).toEqual([batch * seq, 2]);
      expect(values(flatHost)).toEqual(data);
      const expected = data.map((value, i) => value + 100 * (Math.floor(i / 2) % seq));
      expect(values(await result.shifted.toHost())).toEqual(expected);
      Object.values(result).forEach((tensor) => tensor.dispose());
    }
    await program.dispose();
  });

  it('rejects bad feeds with typed errors before tfjs sees them', async () => {
    const graph = new Graph();
    const x = graph.input('x', ['batch', 3]);
    const k = graph.input('k', ['batch', 3]);
    const program = await backend.compile(graph, { outputs: { y: mul(x, k) } });
    const good = float32([2, 3], [1, 2, 3, 4, 5, 6]);
    await expect(program.run({ x: good })).rejects.toThrow(GraphError);
    await expect(program.run({ x: good })).rejects.toThrow(/'k'.*not fed/);
    await expect(program.run({ x: good, k: good, z: good })).rejects.toThrow(/'z' is not a graph input/);
    await expect(program.run({ x: good, k: hostTensor('float64', [2, 3], [1, 2, 3, 4, 5, 6]) })).rejects.toThrow(DTypeError);
    await expect(program.run({ x: good, k: float32([2, 2], [1, 2, 3, 4]) })).rejects.toThrow(/axis 1 must be 3, got 2/);
    await expect(program.run({ x: good, k: float32([6], [1, 2, 3, 4, 5, 6]) })).rejects.toThrow(ShapeError);
    await expect(program.run({ x: good, k: float32([1, 3], [1, 2, 3]) })).rejects.toThrow(/'batch' is 2 in feed 'x' but 1 in feed 'k'/);
    await expect(program.run({ x: good, k: { dtype: 'float32', shape: [2, 3], data: new Float32Array(5) } })).rejects.toThrow(/needs 6 elements/);
    await program.dispose();
  });

  it('evaluates float64 from feeds and constants on the host, exactly, and rejects float64 computed from tfjs tensors', async () => {
    // Adam's bias correction as the trainer builds it: a float64 step counter, rounded to float32 once.
    const graph = new Graph();
    const step = graph.input('step', [], 'float64');
    const x = graph.input('x', [2]);
    const correction = sub(graph.scalar(1, 'float64'), pow(graph.scalar(0.999, 'float64'), step));
    const program = await backend.compile(graph, { outputs: { y: mul(x, cast(correction, 'float32')), correction, step } });
    expect(program.inputNames).toEqual(['step', 'x']);
    const result = await program.run({ step: hostTensor('float64', [], [1]), x: float32([2], [1, 2]) });
    expect(values(await result.y.toHost())).toEqual([Math.fround(1 - 0.999), Math.fround(2 * Math.fround(1 - 0.999))]);
    expect(await result.correction.toHost()).toEqual({ dtype: 'float64', shape: [], data: Float64Array.from([1 - 0.999]) });
    expect(result.step.location).toBe('cpu');
    Object.values(result).forEach((tensor) => tensor.dispose());
    // A float64 device tensor is a host tensor; feeding it works like a host feed.
    const uploaded = await backend.upload(hostTensor('float64', [], [2]));
    const again = await program.run({ step: uploaded, x: float32([2], [1, 2]) });
    expect(Array.from((await again.correction.toHost()).data as Float64Array)).toEqual([1 - 0.999 ** 2]);
    Object.values(again).forEach((tensor) => tensor.dispose());
    await program.dispose();

    const widened = new Graph();
    const wide = cast(widened.input('x', [2]), 'float64');
    await expect(backend.compile(widened, { outputs: { y: wide } })).rejects.toThrow(DTypeError);
    await expect(backend.compile(widened, { outputs: { y: wide } })).rejects.toThrow(/Cast \(node 1\): computes float64 from .*no float64/);
  });

  it('checks int64 values against the int32 range at the boundary', async () => {
    const graph = new Graph();
    const i = graph.input('i', [2], 'int64');
    const program = await backend.compile(graph, { outputs: { j: add(i, graph.constant([1, -1], [2], 'int64')) } });
    const { j } = await program.run({ i: hostTensor('int64', [2], [2n ** 31n - 2n, -(2n ** 31n) + 1n]) });
    expect((await j.toHost()).data).toEqual(BigInt64Array.from([2n ** 31n - 1n, -(2n ** 31n)]));
    j.dispose();
    await expect(program.run({ i: hostTensor('int64', [2], [2n ** 31n, 0n]) })).rejects.toThrow(/int64 value 2147483648 at flat index 0.*int32/);
    await program.dispose();
    const constant = new Graph();
    await expect(backend.compile(constant, { outputs: { c: constant.constant([2 ** 40], [1], 'int64') } })).rejects.toThrow(DTypeError);
  });

  it('reports a failing kernel as a BackendError naming the IR node', async () => {
    const graph = new Graph();
    const x = graph.input('x', ['n']);
    const program = await backend.compile(graph, { outputs: { y: reshape(x, [2, 3]) } });
    const error = await program.run({ x: float32([5], [1, 2, 3, 4, 5]) }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ShapeError);
    expect((error as Error).message).toMatch(/Reshape \(node 1\)/);
    await program.dispose();
  });

  it('feeds each output into the next run, ten times, keeping the state as tfjs tensors', async () => {
    const graph = new Graph();
    const state = graph.input('state', [2, 2]);
    const rotation = graph.constant([0, -1, 1, 0], [2, 2]);
    const next = add(matmul(state, rotation), 1);
    const program = await backend.compile(graph, { outputs: { next } });
    let current = await backend.upload(float32([2, 2], [1, 0, 0, 1]));
    let expected = [
      [1, 0],
      [0, 1],
    ];
    for (let step = 0; step < 10; step++) {
      const { next: result } = await program.run({ state: current });
      expect(result.location).toBe(runtime === 'wasm' ? 'wasm-heap' : 'cpu');
      current.dispose();
      current = result;
      expected = expected.map(([a, b]) => [b + 1, -a + 1]);
    }
    expect(values(await current.toHost())).toEqual(expected.flat());
    current.dispose();
    await program.dispose();
  });

  it('frees every intermediate: only the outputs outlive a run', async () => {
    const { graph, x, y } = denseLayer();
    const program = await backend.compile(graph, { outputs: { y, again: y, input: x, sum: add(y, y) } });
    const fed = await backend.upload(float32([1, 2], [1, 1]));
    const before = tf.memory().numTensors;
    for (let run = 0; run < 3; run++) {
      const result = await program.run({ x: fed });
      expect(tf.memory().numTensors).toBe(before + 4);
      // Outputs are independent: disposing one leaves the others (and the fed tensor) intact.
      result.y.dispose();
      expect(values(await result.again.toHost())).toEqual([3.5, 0]);
      expect(values(await result.input.toHost())).toEqual([1, 1]);
      Object.values(result).forEach((tensor) => tensor.dispose());
      expect(tf.memory().numTensors).toBe(before);
    }
    expect(values(await fed.toHost())).toEqual([1, 1]);
    fed.dispose();
    await program.dispose();
  });

  it('frees intermediates when a run fails halfway', async () => {
    const graph = new Graph();
    const x = graph.input('x', ['n']);
    const program = await backend.compile(graph, { outputs: { y: reshape(relu(mul(x, 2)), [2, 3]) } });
    const before = tf.memory().numTensors;
    await expect(program.run({ x: float32([5], [1, 2, 3, 4, 5]) })).rejects.toThrow(ShapeError);
    expect(tf.memory().numTensors).toBe(before);
    await program.dispose();
  });

  it('returns hostOutputs already read, and device outputs that refuse use after dispose', async () => {
    const { graph, y } = denseLayer();
    const program = await backend.compile(graph, { outputs: { y, metric: mul(y, 2) }, hostOutputs: ['metric'] });
    const result = await program.run({ x: float32([1, 2], [1, 1]) });
    expect(result.metric.location).toBe('cpu');
    expect(values(await result.metric.toHost())).toEqual([7, 0]);
    result.y.dispose();
    await expect(result.y.toHost()).rejects.toThrow(BackendError);
    await expect(program.run({ x: result.y })).rejects.toThrow(/after dispose/);
    await expect(backend.compile(graph, { outputs: { y }, hostOutputs: ['z'] })).rejects.toThrow(GraphError);
    await program.dispose();
    await expect(program.run({ x: float32([1, 2], [1, 1]) })).rejects.toThrow(/disposed/);
  });

  it('stays usable after dispose, whose programs refuse to run', async () => {
    const local = await createTfjsBackend({ runtime });
    const { graph, y } = denseLayer();
    const program = await local.compile(graph, { outputs: { y } });
    await local.dispose();
    await expect(program.run({ x: float32([1, 2], [1, 1]) })).rejects.toThrow(BackendError);
    const again = await local.compile(graph, { outputs: { y } });
    const { y: output } = await again.run({ x: float32([1, 2], [1, 1]) });
    expect(values(await output.toHost())).toEqual([3.5, 0]);
    output.dispose();
    await local.dispose();
  });
});

describe('runtime selection', () => {
  it('picks wasm here: tfjs-node(-gpu) are not installed, and wasm comes before cpu', async () => {
    const backend = await tfjsBackend();
    expect(backend.runtime).toBe('wasm');
    expect(await tfjsBackend()).toBe(backend);
  });

  it('explains how to install a runtime that was named but is missing', async () => {
    for (const runtime of ['node', 'node-gpu'] as const) {
      const error = await createTfjsBackend({ runtime }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(BackendError);
      expect((error as Error).message).toMatch(new RegExp(`@tensorflow/tfjs-${runtime}.*not installed.*npm i @tensorflow/tfjs-${runtime}`));
    }
  });

  it('validates its settings', async () => {
    await expect(createTfjsBackend({ runtime: 'webgl' as never })).rejects.toThrow(ConfigError);
    await expect(createTfjsBackend({ runtme: 'wasm' } as never)).rejects.toThrow(/unknown setting 'runtme'/);
  });

  it('switches tfjs between runtimes as backends on both are used in turn', async () => {
    const [wasm, cpu] = [await createTfjsBackend({ runtime: 'wasm' }), await createTfjsBackend({ runtime: 'cpu' })];
    const { graph, y } = denseLayer();
    const programs = [await wasm.compile(graph, { outputs: { y } }), await cpu.compile(graph, { outputs: { y } })];
    let feed = await wasm.upload(float32([1, 2], [1, 1]));
    for (const program of [...programs, ...programs]) {
      const { y: output } = await program.run({ x: feed });
      expect(values(await output.toHost())).toEqual([3.5, 0]);
      output.dispose();
    }
    expect(tf.getBackend()).toBe('cpu');
    feed.dispose();
    feed = await cpu.upload(float32([1, 2], [1, 1]));
    const { y: output } = await programs[0].run({ x: feed });
    expect(tf.getBackend()).toBe('wasm');
    expect(values(await output.toHost())).toEqual([3.5, 0]);
    output.dispose();
    feed.dispose();
    await Promise.all([wasm.dispose(), cpu.dispose()]);
  });
});
