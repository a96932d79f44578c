import type { Backend, DeviceTensor, HostTensor, Program, Tensor } from '@nnd/core';
import { Graph, matmul, mulDims, reduceMax, relu, reshape, sub, topk } from '@nnd/core';
import type { Decomposition } from '@nnd/core';
// Imported by path: the bench workspace does not depend on these packages.
import { dashboardGraph, FeatureCollector } from '../packages/dashboard/src/index.js';
import { TOKENS_INPUT, type HookedTransformer } from '../packages/models/src/index.js';

/** CPU time of the whole process (ONNX Runtime's threads included), in ms. */
const cpuNow = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/**
 * Where a TopK SAE's collection pass spends its time, stage by stage, each
 * stage a program of its own run on the same tokens, batch after batch (so a
 * busy machine slows all alike): the harvest (the model to the hook,
 * runWithCache), the model plus the encoder's MatMul and ReLU (reduced to one
 * number per position on the device, so nothing large reaches the host),
 * the same plus TopK with the kept pairs brought to the host (the dashboard's
 * program) and with TopK unsorted, and the host collector's `addKept` on
 * those pairs. Differences between stages give the encoder's and the
 * selection's share; medians per batch, wall and CPU.
 */
export async function dashboardBreakdown(options: {
  readonly model: HookedTransformer;
  readonly backend: Backend;
  readonly sae: Decomposition;
  readonly params: Record<string, HostTensor>;
  readonly state: Record<string, HostTensor>;
  readonly tokens: HostTensor;
  readonly hook: string;
  readonly k: number;
  readonly batches: number;
  readonly window: number;
}): Promise<Record<string, { wall_ms: number; cpu_ms: number }>> {
  const { model, backend, sae, params, state, tokens, hook, k } = options;
  const [rows, length] = tokens.shape as [number, number];
  const uploaded: Record<string, DeviceTensor> = {};
  for (const [name, tensor] of Object.entries(params)) uploaded[`param.${name}`] = await backend.upload(tensor);

  // The model to the hook, then (x - b_dec) @ W_enc and ReLU, as the TopK SAE's encoder (no encoder bias).
  const encoderGraph = (select: 'max' | 'topk-sorted' | 'topk-unsorted'): { graph: Graph; outputs: Record<string, Tensor> } => {
    const graph = new Graph();
    const input = graph.input(TOKENS_INPUT, ['batch', 'seq'], 'int64');
    const { hooks } = model.buildGraph(graph, input, { outputs: [hook], returnType: 'none' });
    const width = Number(params.W_enc!.shape[0]);
    const x = reshape(hooks[hook]!, [mulDims('batch', 'seq'), width]);
    const pre = relu(matmul(sub(x, graph.input('param.b_dec', [...params.b_dec!.shape], 'float32')), graph.input('param.W_enc', [...params.W_enc!.shape], 'float32')));
    if (select === 'max') return { graph, outputs: { y: reduceMax(pre, 1) } };
    const { values, indices } = topk(pre, k, { axis: -1, sorted: select === 'topk-sorted' });
    return { graph, outputs: { values, indices } };
  };
  const compileFeeds = async (graph: Graph, outputs: Record<string, Tensor>) => {
    const program = await backend.compile(graph, { outputs, hostOutputs: Object.keys(outputs) });
    const modelFeeds = await model.parameterFeeds(program.inputNames);
    return { program, feeds: { ...modelFeeds, ...Object.fromEntries(Object.entries(uploaded).filter(([name]) => program.inputNames.includes(name))), [TOKENS_INPUT]: tokens } };
  };
  const encoder = encoderGraph('max');
  const encoderProgram = await compileFeeds(encoder.graph, encoder.outputs);
  const sorted = encoderGraph('topk-sorted');
  const sortedProgram = await compileFeeds(sorted.graph, sorted.outputs);
  const unsorted = encoderGraph('topk-unsorted');
  const unsortedProgram = await compileFeeds(unsorted.graph, unsorted.outputs);
  const { graph } = dashboardGraph(model, sae, params, state, undefined, { sparse: true });
  const keptProgram = await compileFeeds(graph.graph, { indices: graph.kept!.indices, values: graph.kept!.values });
  const programs: Record<string, { program: Program; feeds: Record<string, unknown> }> = {
    'model + encoder (no selection)': encoderProgram,
    "the dashboard's program (the SAE's inference, kept pairs to host)": keptProgram,
    'model + encoder + TopK (sorted), pairs to host': sortedProgram,
    'model + encoder + TopK (unsorted), pairs to host': unsortedProgram,
  };
  const collector = new FeatureCollector({ firstFeature: 0, features: Number(params.W_enc!.shape[1]), window: options.window });
  const times: Record<string, { wall: number[]; cpu: number[] }> = {};
  const timed = async <T>(name: string, round: number, work: () => Promise<T> | T): Promise<T> => {
    const started = performance.now();
    const cpuStarted = cpuNow();
    const result = await work();
    if (round > 0) {
      const entry = (times[name] ??= { wall: [], cpu: [] });
      entry.wall.push(performance.now() - started);
      entry.cpu.push(cpuNow() - cpuStarted);
    }
    return result;
  };
  for (let round = 0; round <= options.batches; round++) {
    await timed('harvest (runWithCache)', round, () => model.runWithCache(tokens, { names: [hook], returnType: 'none' }));
    for (const [name, { program, feeds }] of Object.entries(programs)) {
      const outputs = await timed(name, round, async () => {
        const outputs = await program.run(feeds as never);
        for (const tensor of Object.values(outputs)) await tensor.toHost();
        return outputs;
      });
      if (program === keptProgram.program) {
        const indices = (await outputs.indices!.toHost()).data as BigInt64Array;
        const values = (await outputs.values!.toHost()).data as Float32Array;
        await timed('host: addKept (heaps, counts, histograms)', round, () => {
          const words = new Int32Array(indices.buffer, indices.byteOffset, indices.length * 2);
          const low = new Int32Array(indices.length);
          for (let index = 0; index < low.length; index++) low[index] = words[2 * index]!;
          collector.addKept(low, values, k, tokens.data as BigInt64Array, rows, length);
        });
      }
      for (const tensor of Object.values(outputs)) tensor.dispose();
    }
  }
  for (const { program } of Object.values(programs)) await program.dispose();
  for (const tensor of Object.values(uploaded)) tensor.dispose();
  const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
  return Object.fromEntries(Object.entries(times).map(([name, { wall, cpu }]) => [name, { wall_ms: median(wall), cpu_ms: median(cpu) }]));
}
