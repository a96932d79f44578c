import { compileToOnnx } from '@nnd/backend-onnx';
import { hostTensor, Rng, type Decomposition, type HostTensor } from '@nnd/core';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';

const require = createRequire(new URL('../packages/backend-onnx/package.json', import.meta.url));
const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');

interface LiveTensor {
  readonly mb: number;
  /** The ONNX values placed in one buffer, in order, and the ops that made them. */
  readonly value: string;
  readonly op: string;
  /** Positions in the run of the kernel that made the buffer's first value and of the last reader of its last. */
  readonly made: number;
  readonly lastRead: number;
}

export interface ProgramMemory {
  /** The forward variant (undefined: the full forward). */
  readonly variant: string | undefined;
  readonly kernels: number;
  /** The most bytes of intermediates and outputs alive at once, and the kernel where it happens. */
  readonly peak_live_mb: number;
  readonly peak_at: string;
  /** What is alive there, 4 MB and up, largest first. */
  readonly alive: readonly LiveTensor[];
}

/** Ops whose output shape depends on the values they read. */
const DATA_SHAPED = new Set(['Compress', 'NonZero', 'Unique']);

/** Ops whose output shape is given by inputs after the first (all of Range's): shaped by the data when those are computed in the run. */
const SHAPED_BY_VALUES = new Set(['Range', 'Reshape', 'Expand', 'Slice', 'TopK', 'ConstantOfShape', 'Tile', 'Pad', 'OneHot']);

/** Ops whose output has their first input's shape, whatever the others'. */
const SHAPE_OF_DATA = new Set(['ScatterND', 'ScatterElements']);

/** Ops whose CPU kernels alias their output to their first input. */
const VIEWS = new Set(['Reshape', 'Squeeze', 'Unsqueeze', 'Flatten', 'Identity']);

const ELEMENT_BYTES: Record<string, number> = { float: 4, double: 8, int64_t: 8, int32_t: 4, bool: 1, uint8_t: 1 };

/**
 * Where a training step's memory goes inside onnxruntime: each program the
 * trainer compiles (the full step and each forward variant) runs once in a
 * session of our own with the profiler on (`--memory`), which gives the
 * kernels in the order onnxruntime ran them and the shape of every value
 * they made; the optimised model (saved beside it) gives which values each
 * kernel read. Values are placed in buffers as onnxruntime's planner places
 * them (see `liveness`); a buffer lives from the kernel that makes its first
 * value to the last reader of its last, outputs to the end. The live bytes
 * leave out the inputs (the state, the batch) and the allocator's own
 * overhead (see README "Memory").
 */
export async function stepMemory(sae: Decomposition, batch: Float32Array, batchSize: number): Promise<ProgramMemory[]> {
  const { buildTrainingStep, ADAM_EPSILON, batchInputName, stateInputName } = await import('@nnd/train');
  const params = sae.initialParams(new Rng(0));
  const state = sae.initialState();
  const specs = (tensors: Record<string, HostTensor>) => Object.fromEntries(Object.entries(tensors).map(([name, tensor]) => [name, { shape: tensor.shape, dtype: tensor.dtype }]));
  const actSize = batch.length / batchSize;
  const toOrt = (tensor: HostTensor) => new ort.Tensor(tensor.dtype, tensor.data as Float32Array, [...tensor.shape]);
  const feeds: Record<string, import('onnxruntime-node').Tensor> = Object.fromEntries(
    [...sae.reads, ...sae.writes].map((port) => [batchInputName(port.hook), new ort.Tensor('float32', batch, [batchSize, actSize])]),
  );
  for (const [name, tensor] of Object.entries(params)) {
    feeds[stateInputName(0, 'param', name)] = toOrt(tensor);
    for (const kind of ['adam_m', 'adam_v'] as const) feeds[stateInputName(0, kind, name)] = toOrt(hostTensor('float32', tensor.shape, new Float32Array(tensor.data.length)));
  }
  for (const [name, tensor] of Object.entries(state)) feeds[stateInputName(0, 'state', name)] = toOrt(tensor);
  feeds.step = new ort.Tensor('float64', new Float64Array([1]), []);

  const results: ProgramMemory[] = [];
  for (const variant of [undefined, ...(sae.variants ?? []).map((entry) => entry.name)]) {
    const step = buildTrainingStep(
      [{ decomposition: sae, params: specs(params), state: specs(state), adam: { lr: 3e-4, beta1: 0.9, beta2: 0.99, epsilon: ADAM_EPSILON }, maxGradNorm: 100_000 }],
      batchSize,
      [variant],
    );
    const model = compileToOnnx(step.graph, step.outputs);
    const directory = await mkdtemp(join(tmpdir(), 'nnd-sae-memory-'));
    try {
      const optimizedModelFilePath = join(directory, 'optimized.onnx');
      // The backend's own settings where they matter here (see onnx-backend.ts): no arena, no memory patterns, small folds.
      const session = await ort.InferenceSession.create(model.bytes, {
        executionProviders: ['cpu'],
        graphOptimizationLevel: 'all',
        enableCpuMemArena: false,
        enableMemPattern: false,
        logSeverityLevel: 3,
        enableProfiling: true,
        profileFilePrefix: join(directory, 'profile'),
        optimizedModelFilePath,
        extra: { optimization: { constant_folding_max_output_size_in_bytes: String(4 * 1024 * 1024) } },
      });
      await session.run(Object.fromEntries(model.inputs.map((input) => [input.onnxName, feeds[input.name]])));
      session.endProfiling();
      await session.release();
      const profile = (await readdir(directory)).find((name) => name.startsWith('profile'))!;
      const events = JSON.parse(await readFile(join(directory, profile), 'utf8')) as {
        cat: string;
        name: string;
        args?: { op_name?: string; output_type_shape?: Record<string, number[]>[] };
      }[];
      const graph = onnxProto.onnx.ModelProto.decode(await readFile(optimizedModelFilePath)).graph!;
      results.push({ variant, ...liveness(events, graph) });
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }
  return results;
}

function liveness(
  events: { cat: string; name: string; args?: { op_name?: string; output_type_shape?: Record<string, number[]>[] } }[],
  graph: onnxProto.onnx.IGraphProto,
): Omit<ProgramMemory, 'variant'> {
  const byName = new Map(graph.node!.map((node) => [node.name!, node]));
  const kernels = events.filter((event) => event.cat === 'Node' && event.name.endsWith('_kernel_time'));
  const order = kernels.map((event) => byName.get(event.name.replace(/_kernel_time$/, ''))!);
  const bytes = new Map<string, number>();
  const madeBy = new Map<string, number>();
  kernels.forEach((event, index) => {
    order[index].output!.forEach((value, slot) => {
      const entry = event.args?.output_type_shape?.[slot];
      if (entry === undefined) return;
      const [type, shape] = Object.entries(entry)[0];
      bytes.set(
        value,
        shape.reduce((a, b) => a * b, ELEMENT_BYTES[type] ?? 4),
      );
      madeBy.set(value, index);
    });
  });
  const lastRead = new Map<string, number>();
  const reads = new Map<string, number>();
  order.forEach((node, index) =>
    node.input!.forEach((value) => {
      lastRead.set(value, index);
      reads.set(value, (reads.get(value) ?? 0) + 1);
    }),
  );
  const outputs = new Set(graph.output!.map((output) => output.name!));
  const shapeOf = new Map<string, string>();
  kernels.forEach((event, index) =>
    order[index].output!.forEach((value, slot) => {
      const entry = event.args?.output_type_shape?.[slot];
      if (entry !== undefined) shapeOf.set(value, JSON.stringify(entry));
    }),
  );
  // onnxruntime's sequential planner (allocation_planner.cc, memory patterns off): an output takes the buffer of a dead
  // value of exactly its shape and element type when one is free, the most recently freed first; a buffer becomes free
  // when every value placed in it so far has been read for the last time, and is released at run time only after the last
  // reader of the last value placed in it. So a buffer handed on lives through the gap between its values. (Views share their input's buffer; in-place
  // reuse of a kernel's own dying input is not modelled, which can count one buffer too many at such a kernel.)
  // Shapes the planner knows before the run: a value is shaped by the data (and never handed a dead buffer, nor handed on)
  // when an op whose output shape comes from values made it from values computed in the run, or it reads such a value.
  const producedInRun = new Set(order.flatMap((node) => node.output!));
  const shapedByData = new Set<string>();
  for (const node of order) {
    const op = node.opType!;
    const dynamic =
      DATA_SHAPED.has(op) ||
      (SHAPE_OF_DATA.has(op) ? shapedByData.has(node.input![0]) : node.input!.some((value) => shapedByData.has(value))) ||
      (SHAPED_BY_VALUES.has(op) && node.input!.slice(op === 'Range' ? 0 : 1).some((value) => producedInRun.has(value)));
    if (dynamic) for (const value of node.output!) shapedByData.add(value);
  }
  const bufferOf = new Map<string, string>();
  const pendingReads = new Map<string, number>();
  const freelist: string[] = [];
  const releasedAt = new Map<string, number>();
  order.forEach((node, index) => {
    for (const value of node.output!) {
      if (!bytes.has(value)) continue;
      if (VIEWS.has(node.opType!)) {
        // A view's output is its input's buffer (the kernel's alias); a view of an input or initializer holds nothing new.
        const viewed = bufferOf.get(node.input![0]);
        if (viewed === undefined) continue;
        bufferOf.set(value, viewed);
        pendingReads.set(viewed, pendingReads.get(viewed)! + (reads.get(value) ?? 0) + (outputs.has(value) ? 1 : 0));
        releasedAt.set(viewed, Math.max(releasedAt.get(viewed)!, outputs.has(value) ? order.length : (lastRead.get(value) ?? index)));
        continue;
      }
      const free = outputs.has(value) || shapedByData.has(value) ? -1 : freelist.findIndex((buffer) => shapeOf.get(buffer) === shapeOf.get(value));
      const buffer = free >= 0 ? freelist.splice(free, 1)[0] : value;
      bufferOf.set(value, buffer);
      pendingReads.set(buffer, (pendingReads.get(buffer) ?? 0) + (reads.get(value) ?? 0) + (outputs.has(value) ? 1 : 0));
      releasedAt.set(buffer, Math.max(releasedAt.get(buffer) ?? index, outputs.has(value) ? order.length : (lastRead.get(value) ?? index)));
      if (pendingReads.get(buffer) === 0 && !shapedByData.has(buffer)) freelist.unshift(buffer);
    }
    for (const value of node.input!) {
      const buffer = bufferOf.get(value);
      if (buffer === undefined) continue;
      pendingReads.set(buffer, pendingReads.get(buffer)! - 1);
      if (pendingReads.get(buffer) === 0 && !shapedByData.has(buffer)) freelist.unshift(buffer);
    }
  });
  const valuesIn = new Map<string, string[]>();
  for (const [value, buffer] of bufferOf) valuesIn.set(buffer, [...(valuesIn.get(buffer) ?? []), value]);
  let peak = { bytes: 0, at: 0, alive: [] as string[] };
  const alive = new Set<string>();
  let live = 0;
  order.forEach((node, index) => {
    for (const value of node.output!) {
      if (bufferOf.get(value) !== value) continue;
      alive.add(value);
      live += bytes.get(value)!;
    }
    if (live > peak.bytes) peak = { bytes: live, at: index, alive: [...alive] };
    for (const buffer of [...alive]) {
      if (releasedAt.get(buffer)! <= index) {
        alive.delete(buffer);
        live -= bytes.get(buffer)!;
      }
    }
  });
  const mb = (value: number) => Math.round(value / 1e6);
  return {
    kernels: order.length,
    peak_live_mb: mb(peak.bytes),
    peak_at: `${order[peak.at].opType} ${order[peak.at].name} (kernel ${peak.at})`,
    alive: peak.alive
      .filter((buffer) => bytes.get(buffer)! >= 4e6)
      .sort((a, b) => bytes.get(b)! - bytes.get(a)!)
      .map((buffer) => ({
        mb: mb(bytes.get(buffer)!),
        value: valuesIn.get(buffer)!.join(' then '),
        op: valuesIn
          .get(buffer)!
          .map((value) => order[madeBy.get(value)!].opType!)
          .join(' then '),
        made: madeBy.get(buffer)!,
        lastRead: releasedAt.get(buffer)!,
      })),
  };
}
