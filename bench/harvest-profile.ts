import { compileToOnnx } from '@nnd/backend-onnx';
import { Graph, type HostTensor } from '@nnd/core';
import { readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HookedTransformer } from '../packages/models/src/index.js';

const require = createRequire(new URL('../packages/backend-onnx/package.json', import.meta.url));
const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');

/**
 * Kernel time per op type of the harvest program: the same graph
 * HookedTransformer compiles, in an onnxruntime-node session of our own with
 * ORT's profiler on (backend-onnx does not expose profiling).
 */
export async function profileHarvest(
  model: HookedTransformer,
  parameters: Record<string, HostTensor>,
  tokens: HostTensor,
  hook: string,
  runs: number,
): Promise<{ run_ms: number; ops: Record<string, number> }> {
  const graph = new Graph();
  const input = graph.input('tokens', ['batch', 'seq'], 'int64');
  const result = model.buildGraph(graph, input, { outputs: [hook], returnType: 'none' });
  const onnx = compileToOnnx(graph, { [hook]: result.hooks[hook] });
  const prefix = join(tmpdir(), `nnd-harvest-profile-${process.pid}`);
  const session = await ort.InferenceSession.create(onnx.bytes, { graphOptimizationLevel: 'all', enableProfiling: true, profileFilePrefix: prefix });
  const feeds: Record<string, import('onnxruntime-node').Tensor> = { tokens: new ort.Tensor('int64', tokens.data as BigInt64Array, [...tokens.shape]) };
  for (const name of result.parameters.keys()) {
    const tensor = parameters[name];
    feeds[name] = new ort.Tensor(tensor.dtype as 'float32', tensor.data as Float32Array, [...tensor.shape]);
  }
  const walls: number[] = [];
  for (let index = 0; index <= runs; index++) {
    const start = performance.now();
    await session.run(feeds);
    if (index > 0) walls.push(performance.now() - start);
  }
  session.endProfiling();
  await session.release();
  const file = (await readdir(tmpdir()))
    .filter((name) => join(tmpdir(), name).startsWith(prefix))
    .sort()
    .pop()!;
  const events = JSON.parse(await readFile(join(tmpdir(), file), 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
  await rm(join(tmpdir(), file), { force: true });
  const kernels = events.filter((event) => event.cat === 'Node' && event.name.endsWith('_kernel_time'));
  const perRun = kernels.length / (runs + 1);
  const ops: Record<string, number> = {};
  for (const event of kernels.slice(perRun)) {
    const op = event.args?.op_name ?? 'unknown';
    ops[op] = (ops[op] ?? 0) + event.dur / 1000 / runs;
  }
  walls.sort((a, b) => a - b);
  const sorted = Object.fromEntries(
    Object.entries(ops)
      .sort((a, b) => b[1] - a[1])
      .map(([op, ms]) => [op, Math.round(ms * 10) / 10]),
  );
  return { run_ms: walls[Math.floor(walls.length / 2)], ops: sorted };
}
