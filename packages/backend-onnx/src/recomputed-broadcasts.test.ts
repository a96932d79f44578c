import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Graph, add, hostTensor, mul, reduceSum, scatterElements, type Tensor, zeros } from '@nnd/core';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { compileToOnnx } from './compile-to-onnx.js';
import { createOnnxBackend } from './onnx-backend.js';
import { BROADCAST_MIN_BYTES } from './recomputed-broadcasts.js';

const { onnx } = onnxProto;
const backend = createOnnxBackend({ threads: 2 });
afterAll(() => backend.dispose());

// A gradient's shape of problem: several scatters into zeros of one large shape, far apart in the program.
// [rows, width] float32 is exactly the threshold.
const [rows, width, k] = [1024, 16384, 4];

/** Three scatters, each into its own `zeros` (equal Expands of a scalar) or, with `shared`, all into one. */
function scatters(graph: Graph, shared = false) {
  const x = graph.input('x', [rows, width]);
  const indices = graph.input('indices', [rows, k], 'int64');
  const values = graph.input('values', [rows, k]);
  const zero = zeros(graph, [rows, width], 'float32');
  const into = () => (shared ? zero : zeros(graph, [rows, width], 'float32'));
  const first = mul(scatterElements(into(), indices, values, 1), x);
  const second = mul(scatterElements(into(), indices, mul(values, values), 1, 'add'), first);
  const third = add(scatterElements(into(), indices, add(values, values), 1), second);
  return { zero, out: reduceSum(third, [1]) };
}

const feeds = {
  x: hostTensor(
    'float32',
    [rows, width],
    Float32Array.from({ length: rows * width }, (_, i) => Math.sin(i * 0.37)),
  ),
  indices: hostTensor(
    'int64',
    [rows, k],
    BigInt64Array.from({ length: rows * k }, (_, i) => BigInt((i * 7 + (i >> 4)) % width)),
  ),
  values: hostTensor(
    'float32',
    [rows, k],
    Float32Array.from({ length: rows * k }, (_, i) => Math.cos(i * 0.11)),
  ),
};

/** The Expands of a model, and the ops that read each one's output. */
function expands(bytes: Uint8Array) {
  const nodes = onnx.ModelProto.decode(bytes).graph!.node!;
  return nodes.filter((node) => node.opType === 'Expand').map((node) => nodes.filter((reader) => reader.input!.includes(node.output![0])).map((reader) => reader.opType));
}

async function optimised(bytes: Uint8Array): Promise<Uint8Array> {
  const directory = await mkdtemp(join(tmpdir(), 'nnd-broadcasts-'));
  try {
    const optimizedModelFilePath = join(directory, 'optimized.onnx');
    // As the backend creates its sessions: without the folding limit onnxruntime would fold the Expands into initializers.
    const extra = { optimization: { constant_folding_max_output_size_in_bytes: String(4 * 1024 * 1024) } };
    const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', optimizedModelFilePath, extra });
    await session.release();
    return await readFile(optimizedModelFilePath);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

describe('recomputed broadcasts', () => {
  it("keeps equal large Expands apart through onnxruntime's optimisations, one per scatter", async () => {
    const graph = new Graph();
    const { zero, out } = scatters(graph);
    expect(zero.shape.reduce<number>((a, b) => a * (b as number), 4)).toBe(BROADCAST_MIN_BYTES);
    // Constant sharing and common-subexpression elimination would merge them into one Expand read by all three.
    expect(expands(await optimised(compileToOnnx(graph, { out }).bytes))).toEqual([['ScatterElements'], ['ScatterElements'], ['ScatterElements']]);
  });

  it('gives each later reader of one large Expand its own copy', async () => {
    const graph = new Graph();
    const { out } = scatters(graph, true);
    const { bytes } = compileToOnnx(graph, { out });
    expect(expands(bytes)).toEqual([['ScatterElements'], ['ScatterElements'], ['ScatterElements']]);
    expect(expands(await optimised(bytes))).toEqual([['ScatterElements'], ['ScatterElements'], ['ScatterElements']]);
  });

  it('keeps one Expand when it is an output, or below the threshold', () => {
    const graph = new Graph();
    const { zero, out } = scatters(graph, true);
    expect(expands(compileToOnnx(graph, { out, zero }).bytes)).toHaveLength(1);

    const small = new Graph();
    const x = small.input('x', [4, width]);
    const zero4 = zeros(small, [4, width], 'float32');
    const indices = small.input('indices', [4, k], 'int64');
    const values = small.input('values', [4, k]);
    const both = add(scatterElements(zero4, indices, values, 1), mul(scatterElements(zero4, indices, values, 1, 'add'), x));
    expect(expands(compileToOnnx(small, { both }).bytes)).toHaveLength(1);
  });

  it('gives the same bits as scattering into one shared block', async () => {
    const run = async (outputs: Record<string, Tensor>) => {
      const program = await backend.compile(outputs.out.graph, { outputs });
      const result = await program.run(feeds);
      const host = await result.out.toHost();
      await program.dispose();
      return host.data as Float32Array;
    };
    const kept = scatters(new Graph(), true);
    const recomputed = scatters(new Graph(), true);
    // Exporting the zeros keeps them one value, read by all three scatters.
    const [once, thrice] = [await run({ out: kept.out, zero: kept.zero }), await run({ out: recomputed.out })];
    expect(Buffer.from(thrice.buffer).equals(Buffer.from(once.buffer))).toBe(true);
    expect(thrice.some((value) => value !== 0)).toBe(true);
  });
});
