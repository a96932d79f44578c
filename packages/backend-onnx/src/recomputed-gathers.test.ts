import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Graph, gather, grad, hostTensor, matmul, mul, reduceSum, squeeze, unsqueeze, type Tensor } from '@nnd/core';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { compileToOnnx } from './compile-to-onnx.js';
import { createOnnxBackend } from './onnx-backend.js';
import { RECOMPUTE_MIN_BYTES } from './recomputed-gathers.js';

const { onnx } = onnxProto;
const backend = createOnnxBackend({ threads: 2 });
afterAll(() => backend.dispose());

// The sparse decoder's shape of problem: rows of W gathered per (sample, kept feature), weighted by the kept values in
// the forward pass, and read again by the gradient of the values. [batch, k, width] float32 is exactly the threshold.
const [batch, k, width, features] = [512, 16, 512, 64];

function sparseDecode(graph: Graph) {
  const w = graph.input('W', [features, width]);
  const indices = graph.input('features', [batch, k], 'int64');
  const values = graph.input('values', [batch, k]);
  const rows = gather(w, indices, 0);
  const decoded = squeeze(matmul(unsqueeze(values, 1), rows), 1);
  const loss = reduceSum(mul(decoded, decoded));
  const [dValues] = grad(loss, [values]);
  return { rows, decoded, dValues };
}

const feeds = {
  W: hostTensor(
    'float32',
    [features, width],
    Float32Array.from({ length: features * width }, (_, i) => Math.sin(i * 0.37)),
  ),
  features: hostTensor(
    'int64',
    [batch, k],
    BigInt64Array.from({ length: batch * k }, (_, i) => BigInt((i * 7 + (i >> 4)) % features)),
  ),
  values: hostTensor(
    'float32',
    [batch, k],
    Float32Array.from({ length: batch * k }, (_, i) => Math.cos(i * 0.11)),
  ),
};

/** The Gathers of a model that read W, and the nodes that read each one's output. */
function gathersOfW(bytes: Uint8Array) {
  const nodes = onnx.ModelProto.decode(bytes).graph!.node!;
  return nodes
    .filter((node) => node.opType === 'Gather' && node.input![0] === 'W')
    .map((node) => ({ node, readers: nodes.filter((reader) => reader.input!.includes(node.output![0])).map((reader) => reader.opType) }));
}

describe('recomputed gathers', () => {
  it('gives the backward its own copy of a large Gather that the forward reads too', () => {
    const graph = new Graph();
    const { rows, decoded, dValues } = sparseDecode(graph);
    expect(rows.shape.reduce<number>((a, b) => a * (b as number), 4)).toBe(RECOMPUTE_MIN_BYTES);
    const gathers = gathersOfW(compileToOnnx(graph, { decoded, dValues }).bytes);
    expect(gathers).toHaveLength(2);
    // Each has exactly one reader: the forward's MatMul, and (through the Reshape that gives the copy its shape back) the
    // gradient's, since MatMul's rule reads the rows transposed.
    expect(gathers.map(({ readers }) => readers)).toEqual([['MatMul'], ['Reshape']]);
    const nodes = onnx.ModelProto.decode(compileToOnnx(graph, { decoded, dValues }).bytes).graph!.node!;
    const reshaped = nodes.find((node) => node.opType === 'Reshape' && node.input![0] === gathers[1].node.output![0])!;
    expect(nodes.filter((node) => node.input!.includes(reshaped.output![0])).map((node) => node.opType)).toEqual(['Transpose']);
  });

  it("survives onnxruntime's optimisations: the optimised model still gathers twice, so no copy lives from forward to backward", async () => {
    const graph = new Graph();
    const { decoded, dValues } = sparseDecode(graph);
    const directory = await mkdtemp(join(tmpdir(), 'nnd-recomputed-'));
    try {
      const optimizedModelFilePath = join(directory, 'optimized.onnx');
      const session = await ort.InferenceSession.create(compileToOnnx(graph, { decoded, dValues }).bytes, { graphOptimizationLevel: 'all', optimizedModelFilePath });
      await session.release();
      // Common-subexpression elimination merges equal nodes; had it merged the copy, one Gather would feed both MatMuls.
      const gathers = gathersOfW(await readFile(optimizedModelFilePath));
      expect(gathers).toHaveLength(2);
      for (const { readers } of gathers) expect(readers).toHaveLength(1);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it("shapes the copy unlike the original, so that onnxruntime cannot place it in the original's buffer", async () => {
    const graph = new Graph();
    const { decoded, dValues } = sparseDecode(graph);
    const { bytes } = compileToOnnx(graph, { decoded, dValues });
    const model = onnx.ModelProto.decode(bytes).graph!;
    const [original, copy] = gathersOfW(bytes).map(({ node }) => node);
    expect(original.input![1]).toBe('features');
    // The copy reads the [batch, k] indices flattened to [batch * k] and is reshaped back for its reader.
    const flatten = model.node!.find((node) => node.output![0] === copy.input![1])!;
    expect(flatten.opType).toBe('Reshape');
    expect(flatten.input![0]).toBe('features');
    const target = model.initializer!.find((initializer) => initializer.name === flatten.input![1])!;
    expect(target.dims!.map(Number)).toEqual([1]);
    expect(Number(target.int64Data?.[0] ?? new BigInt64Array(new Uint8Array(target.rawData!).slice().buffer)[0])).toBe(batch * k);
    const back = model.node!.filter((node) => node.input!.includes(copy.output![0]));
    expect(back.map((node) => node.opType)).toEqual(['Reshape']);
    // onnxruntime's optimiser keeps it so.
    const directory = await mkdtemp(join(tmpdir(), 'nnd-recomputed-'));
    try {
      const optimizedModelFilePath = join(directory, 'optimized.onnx');
      const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', optimizedModelFilePath });
      await session.release();
      const indices = gathersOfW(await readFile(optimizedModelFilePath)).map(({ node }) => node.input![1]);
      expect(indices.filter((name) => name === 'features')).toHaveLength(1);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('keeps one Gather when it is an output, or below the threshold', () => {
    const graph = new Graph();
    const { rows, decoded, dValues } = sparseDecode(graph);
    expect(gathersOfW(compileToOnnx(graph, { decoded, dValues, rows }).bytes)).toHaveLength(1);

    const small = new Graph();
    const w = small.input('W', [features, width]);
    const few = gather(w, small.input('features', [4, k], 'int64'), 0);
    const values = small.input('values', [4, k]);
    const out = squeeze(matmul(unsqueeze(values, 1), few), 1);
    const [dValues2] = grad(reduceSum(mul(out, out)), [values]);
    expect(gathersOfW(compileToOnnx(small, { out, dValues: dValues2 }).bytes)).toHaveLength(1);
  });

  it('gives the same bits as reading the one Gather', async () => {
    const run = async (outputs: Record<string, Tensor>) => {
      const program = await backend.compile(outputs.decoded.graph, { outputs });
      const result = await program.run(feeds);
      const host = await result.dValues.toHost();
      await program.dispose();
      return host.data as Float32Array;
    };
    const recomputed = sparseDecode(new Graph());
    const kept = sparseDecode(new Graph());
    // Exporting the rows keeps them: the program reads one Gather in both passes.
    const [once, twice] = [await run({ decoded: kept.decoded, dValues: kept.dValues, rows: kept.rows }), await run({ decoded: recomputed.decoded, dValues: recomputed.dValues })];
    expect(Buffer.from(twice.buffer).equals(Buffer.from(once.buffer))).toBe(true);
    expect(twice.some((value) => value !== 0)).toBe(true);
  });
});
