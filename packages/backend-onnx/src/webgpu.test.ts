import { Graph, add, evaluateGraph, hostTensor, matmul, mul, reduceSum, scatterND, softmax, topk, type Backend, type DeviceTensor, type HostTensor } from '@nnd/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createOnnxBackend } from './onnx-backend.js';
import { OP_CASES, SYMBOL_SIZES, buildCase, expectMatches, feedsFor } from './op-cases.test-support.js';

// WebGPU needs an adapter (a GPU, or Mesa 25's lavapipe on CPU-only machines), so these run only on request.
const enabled = process.env.NND_WEBGPU === '1';
const title = enabled ? 'backend-onnx on WebGPU' : 'backend-onnx on WebGPU (skipped: set NND_WEBGPU=1 where Vulkan works, e.g. lavapipe from bookworm-backports mesa-vulkan-drivers)';

/** state <- softmax(state W) * 2 + state / 2, scattered into a running total; ten steps. */
async function chain(backend: Backend, onStep: (outputs: Record<string, DeviceTensor>) => void): Promise<HostTensor[]> {
  const graph = new Graph();
  const state = graph.input('state', [4, 8]);
  const totals = graph.input('totals', [3, 8]);
  const weights = graph.constant(
    Array.from({ length: 64 }, (_, i) => Math.sin(i) / 4),
    [8, 8],
  );
  const next = add(mul(softmax(matmul(state, weights)), 2), mul(state, 0.5));
  const { indices } = topk(reduceSum(next, 1, true), 1, { axis: 0 });
  const rows = graph.constant([0, 2, 1, 2], [4, 1], 'int64');
  const program = await backend.compile(graph, {
    outputs: { next, totals: scatterND(totals, rows, next, 'add'), best: indices, metric: reduceSum(next) },
    hostOutputs: ['metric'],
  });
  let feeds: Record<string, DeviceTensor> = {
    state: await backend.upload(
      hostTensor(
        'float32',
        [4, 8],
        Array.from({ length: 32 }, (_, i) => (i % 7) / 7),
      ),
    ),
    totals: await backend.upload(hostTensor('float32', [3, 8], new Float32Array(24))),
  };
  let outputs: Record<string, DeviceTensor> = {};
  for (let step = 0; step < 10; step++) {
    outputs = await program.run(feeds);
    onStep(outputs);
    Object.values(feeds).forEach((tensor) => tensor.dispose());
    feeds = { state: outputs.next, totals: outputs.totals };
  }
  const results = await Promise.all(['next', 'totals', 'best', 'metric'].map((name) => outputs[name].toHost()));
  await program.dispose();
  return results;
}

describe.skipIf(!enabled)(title, () => {
  const backend = createOnnxBackend({ device: 'webgpu' });
  const cpu = createOnnxBackend({ device: 'cpu' });
  afterAll(async () => {
    await backend.dispose();
    await cpu.dispose();
  });

  it('declares device-resident tensors', () => {
    expect(backend.capabilities).toMatchObject({ device: 'webgpu', deviceResidentTensors: true });
  });

  // Every op case, not only the float32 ones the WebGPU provider runs itself (MatMul, TopK, Gather, ScatterND
  // add, reductions, Softmax...): the rest must survive the CPU fallback. All buffers stay far below lavapipe's 128 MiB binding limit.
  it.each(OP_CASES.map((opCase) => [opCase.label, opCase] as const))('%s matches the reference interpreter', async (label, opCase) => {
    const { graph, outputs } = buildCase(opCase);
    const program = await backend.compile(graph, { outputs });
    for (const [index, sizes] of SYMBOL_SIZES.entries()) {
      const feeds = feedsFor(opCase, sizes, 7919 * (index + 1));
      const expected = evaluateGraph(graph, Object.values(outputs), feeds);
      const actual = await program.run(feeds);
      for (const [position, name] of Object.keys(outputs).entries()) {
        expectMatches(await actual[name].toHost(), expected[position], `${label} '${name}' on WebGPU`, opCase.tolerance);
      }
    }
    await program.dispose();
  });

  it('chains ten runs through GPU buffers and agrees with the CPU', async () => {
    const gpuResults = await chain(backend, (outputs) => {
      expect(outputs.next.location).toBe('gpu-buffer');
      expect(outputs.totals.location).toBe('gpu-buffer');
      expect(outputs.metric.location).toBe('cpu');
    });
    const cpuResults = await chain(cpu, (outputs) => expect(outputs.next.location).toBe('cpu'));
    gpuResults.forEach((result, index) => expectMatches(result, cpuResults[index], `chained output ${index}`, { relative: 1e-5, absolute: 1e-5 }));
  });

  it('uploads to GPU buffers, keeps float64 on the host, and downloads for CPU programs', async () => {
    const host = hostTensor('float32', [2, 3], [1, 2, 3, 4, 5, 6]);
    const uploaded = await backend.upload(host);
    expect(uploaded.location).toBe('gpu-buffer');
    expect(Array.from((await uploaded.toHost()).data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await backend.upload(hostTensor('float64', [1], [2]))).location).toBe('cpu');

    const graph = new Graph();
    const x = graph.input('x', [2, 3]);
    const doubled = mul(x, 2);
    const cpuProgram = await cpu.compile(graph, { outputs: { doubled } });
    // A GPU buffer fed to a CPU session would be read as garbage; the backend downloads it first.
    const { doubled: result } = await cpuProgram.run({ x: uploaded });
    expect(Array.from((await result.toHost()).data as Float32Array)).toEqual([2, 4, 6, 8, 10, 12]);
    uploaded.dispose();
    await cpuProgram.dispose();
  });
});
