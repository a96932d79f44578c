import { compileToOnnx } from '@nnd/backend-onnx';
import { hostTensor, Rng, type Decomposition, type HostTensor } from '@nnd/core';
import { readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(new URL('../packages/backend-onnx/package.json', import.meta.url));
const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');

export interface StepProfile {
  /** Median wall time of session.run over the profiled runs. */
  run_ms: number;
  /** Kernel time per op type per run, largest first. */
  ops: Record<string, number>;
  /** The slowest nodes (IR op and node id) per run. */
  nodes: Record<string, number>;
  /** Kernel time per op type and output shape per run, largest first. */
  shapes: Record<string, number>;
}

/**
 * The training step's per-op cost: the same graph the trainer compiles,
 * run in an onnxruntime-node session of our own with ORT's profiler on
 * (backend-onnx does not expose profiling). Kernel times exclude the
 * binding's copies of outputs into JavaScript; `run_ms` includes them.
 */
export async function profileTrainingStep(sae: Decomposition, batch: Float32Array | BigInt64Array, batchSize: number, device: string, runs: number, warmup: number): Promise<StepProfile> {
  const { buildTrainingStep, ADAM_EPSILON, batchInputName, frozenInputName, randomInputName, stateInputName } = await import('@nnd/train');
  const params = sae.initialParams(new Rng(0));
  const state = sae.initialState();
  // SPD's model weights and per-step random masks; empty for the activation decompositions.
  const frozen = sae.frozenInputs?.() ?? {};
  const random = Object.entries(sae.randomInputs?.(batchSize) ?? {});
  const specs = (tensors: Record<string, HostTensor>) => Object.fromEntries(Object.entries(tensors).map(([name, tensor]) => [name, { shape: tensor.shape, dtype: tensor.dtype }]));
  const actSize = batch.length / batchSize;
  // The program the trainer runs once warm: its first forward variant when it has one (TopK's, without the
  // auxiliary loss while no feature can be dead), as `bench sae` times it.
  const step = buildTrainingStep(
    [{ decomposition: sae, params: specs(params), state: specs(state), frozen: specs(frozen), adam: { lr: 3e-4, beta1: 0.9, beta2: 0.99, epsilon: ADAM_EPSILON }, maxGradNorm: 100_000 }],
    batchSize,
    [sae.variants?.[0]?.name],
  );
  const model = compileToOnnx(step.graph, step.outputs);
  const prefix = join(tmpdir(), `nnd-sae-profile-${process.pid}`);
  const session = await ort.InferenceSession.create(model.bytes, {
    executionProviders: [device],
    graphOptimizationLevel: 'all',
    enableProfiling: true,
    profileFilePrefix: prefix,
  });
  const toOrt = (tensor: HostTensor) => new ort.Tensor(tensor.dtype, tensor.data as Float32Array, [...tensor.shape]);
  // Every stream read or written gets the batch (an SAE's one hook; a MOLT's input and target, of equal widths here).
  const feeds: Record<string, import('onnxruntime-node').Tensor> = Object.fromEntries(
    [...sae.reads, ...sae.writes].map((port) => [batchInputName(port.hook), new ort.Tensor(port.dtype ?? 'float32', batch, [batchSize, actSize])]),
  );
  for (const [name, tensor] of Object.entries(frozen)) feeds[frozenInputName(0, name)] = toOrt(tensor);
  const rng = new Rng(1);
  for (const [name, shape] of random) feeds[randomInputName(0, name)] = new ort.Tensor('float32', rng.uniform(shape.reduce((a, b) => a * b, 1)), shape);
  for (const [name, tensor] of Object.entries(params)) {
    feeds[stateInputName(0, 'param', name)] = toOrt(tensor);
    feeds[stateInputName(0, 'adam_m', name)] = toOrt(hostTensor('float32', tensor.shape, new Float32Array(tensor.data.length)));
    feeds[stateInputName(0, 'adam_v', name)] = toOrt(hostTensor('float32', tensor.shape, new Float32Array(tensor.data.length)));
  }
  for (const [name, tensor] of Object.entries(state)) feeds[stateInputName(0, 'state', name)] = toOrt(tensor);
  const walls: number[] = [];
  for (let index = 0; index < warmup + runs; index++) {
    feeds.step = new ort.Tensor('float64', new Float64Array([index + 1]), []);
    const start = performance.now();
    await session.run(feeds);
    if (index >= warmup) walls.push(performance.now() - start);
  }
  session.endProfiling();
  await session.release();

  // The profile is a Chrome trace: one `<node>_kernel_time` event per node per run.
  const directory = tmpdir();
  const file = (await readdir(directory))
    .filter((name) => join(directory, name).startsWith(prefix))
    .sort()
    .pop();
  const events = JSON.parse(await readFile(join(directory, file!), 'utf8')) as {
    cat: string;
    name: string;
    dur: number;
    args?: { op_name?: string; input_type_shape?: Record<string, number[]>[]; output_type_shape?: Record<string, number[]>[] };
  }[];
  await rm(join(directory, file!), { force: true });
  const kernels = events.filter((event) => event.cat === 'Node' && event.name.endsWith('_kernel_time'));
  const perRun = kernels.length / (warmup + runs);
  const ops: Record<string, number> = {};
  const nodes: Record<string, number> = {};
  const shapes: Record<string, number> = {};
  for (const event of kernels.slice(perRun * warmup)) {
    const shapesOf = (list: Record<string, number[]>[] | undefined) => (list ?? []).map((entry) => JSON.stringify(Object.values(entry)[0])).join(' ');
    const shape = `${event.args?.op_name ?? 'unknown'} ${shapesOf(event.args?.input_type_shape)} -> ${shapesOf(event.args?.output_type_shape)}`;
    shapes[shape] = (shapes[shape] ?? 0) + event.dur / 1000 / runs;
    const op = event.args?.op_name ?? 'unknown';
    ops[op] = (ops[op] ?? 0) + event.dur / 1000 / runs;
    const node = event.name.replace(/_kernel_time$/, '');
    nodes[node] = (nodes[node] ?? 0) + event.dur / 1000 / runs;
  }
  const sortedEntries = (record: Record<string, number>, count: number) =>
    Object.fromEntries(
      Object.entries(record)
        .sort((a, b) => b[1] - a[1])
        .slice(0, count)
        .map(([key, value]) => [key, Math.round(value * 10) / 10]),
    );
  walls.sort((a, b) => a - b);
  return { run_ms: walls[Math.floor(walls.length / 2)], ops: sortedEntries(ops, 15), nodes: sortedEntries(nodes, 15), shapes: sortedEntries(shapes, 40) };
}
