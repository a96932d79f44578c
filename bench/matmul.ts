import { Graph, matmul, Rng } from '@nnd/core';
import { createRequire } from 'node:module';
import onnxProto from 'onnx-proto';
import { BACKEND_OPTIONS, createBenchBackend } from './backend-option.js';
import type { Benchmark } from './benchmarks.js';
import { medianMs } from './timing.js';

const require = createRequire(new URL('../packages/backend-onnx/package.json', import.meta.url));
const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
const { onnx } = onnxProto;

/** A one-node MatMul model built by hand: what onnxruntime-node does without nnd. */
function directModel(m: number, k: number, n: number): Uint8Array {
  const valueInfo = (name: string, dims: number[]) => ({
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((dimValue) => ({ dimValue })) } } },
  });
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 18 }],
    graph: {
      name: 'matmul',
      node: [{ opType: 'MatMul', input: ['a', 'b'], output: ['c'] }],
      input: [valueInfo('a', [m, k]), valueInfo('b', [k, n])],
      output: [valueInfo('c', [m, n])],
    },
  }).finish();
}

type HostMatrix = { dtype: 'float32'; shape: number[]; data: Float32Array };

async function directOnnx(a: HostMatrix, b: HostMatrix, m: number, k: number, n: number, device: string, runs: number) {
  const session = await ort.InferenceSession.create(directModel(m, k, n), {
    executionProviders: [device],
    graphOptimizationLevel: 'all',
  });
  const feeds = { a: new ort.Tensor('float32', a.data, a.shape), b: new ort.Tensor('float32', b.data, b.shape) };
  const direct = await medianMs(() => session.run(feeds), runs, 2);
  await session.release();
  return direct;
}

/** What directTfjs uses of tfjs (the bench workspace has no @tensorflow/tfjs types). */
interface TfjsMatMul {
  tensor(data: Float32Array, shape: number[]): { dispose(): void };
  matMul(left: unknown, right: unknown): { dispose(): void };
  dispose(tensors: unknown[]): void;
}

/** tf.matMul on tensors created once: the runtime the backend picked is tfjs's active one (its engine is global). */
async function directTfjs(a: HostMatrix, b: HostMatrix, runs: number) {
  const tf = createRequire(new URL('../packages/backend-tfjs/package.json', import.meta.url))('@tensorflow/tfjs') as TfjsMatMul;
  const [left, right] = [tf.tensor(a.data, a.shape), tf.tensor(b.data, b.shape)];
  const direct = await medianMs(async () => tf.matMul(left, right).dispose(), runs, 2);
  tf.dispose([left, right]);
  return direct;
}

export const matmulBenchmark: Benchmark = {
  options: {
    m: { type: 'string', default: '4096' },
    k: { type: 'string', default: '768' },
    n: { type: 'string', default: '12288' },
    runs: { type: 'string', default: '7' },
    device: { type: 'string', default: 'cpu' },
    ...BACKEND_OPTIONS,
  },
  async run(options, log) {
    const [m, k, n, runs] = ['m', 'k', 'n', 'runs'].map((key) => Number(options[key]));
    const device = options.device as 'cpu' | 'webgpu';
    const flops = 2 * m * k * n;
    const rng = new Rng(0);
    const a = { dtype: 'float32' as const, shape: [m, k], data: rng.uniform(m * k, -1, 1) };
    const b = { dtype: 'float32' as const, shape: [k, n], data: rng.uniform(k * n, -1, 1) };

    const backend = await createBenchBackend(options);
    const graph = new Graph();
    const product = matmul(graph.input('a', ['batch', k]), graph.input('b', [k, n]));
    const program = await backend.compile(graph, { outputs: { c: product } });
    // Outputs are disposed inside the timed call: tfjs tensors live until then.
    const nnd = await medianMs(async () => Object.values(await program.run({ a, b })).forEach((tensor) => tensor.dispose()), runs, 2);
    log(`nnd IR on ${backend.name} ${backend.capabilities.device}: ${nnd.median.toFixed(1)} ms median (${nnd.samples.map((s) => s.toFixed(0)).join(', ')})`);

    const direct = options.backend === 'tfjs' ? await directTfjs(a, b, runs) : await directOnnx(a, b, m, k, n, device, runs);
    log(`${options.backend === 'tfjs' ? `tf.matMul on ${backend.name}` : `onnxruntime-node one-node MatMul ${device}`}: ${direct.median.toFixed(1)} ms median`);
    await program.dispose();
    await backend.dispose();
    return {
      benchmark: 'matmul',
      backend: backend.name,
      m,
      k,
      n,
      device,
      runs,
      ms: nnd.median,
      gflops: flops / (nnd.median * 1e6),
      direct_ms: direct.median,
      direct_gflops: flops / (direct.median * 1e6),
    };
  },
};
