import { Graph, gather, hostTensor, mul, reshape, scatterND, unsqueeze, type HostTensor, type Tensor } from '@nnd/core';
import { afterAll, describe, expect, it } from 'vitest';
import { compileToOnnx } from './compile-to-onnx.js';
import { planRowUpdateFusion } from './fused-row-updates.js';
import { createOnnxBackend } from './onnx-backend.js';

const backend = createOnnxBackend({ threads: 2 });
afterAll(() => backend.dispose());

const [batch, k, width, rows] = [96, 5, 24, 37];
// Entry (b, j) adds into row (b * b + 7 j) mod 37, every other one by a negative index: runs of many lengths, some rows left alone.
const targets = Array.from({ length: batch * k }, (_, entry) => {
  const row = (Math.floor(entry / k) ** 2 + 7 * (entry % k)) % rows;
  return entry % 2 ? row - rows : row;
});
const wave = (length: number, scale: number) => Array.from({ length }, (_, index) => Math.sin(index * scale) * 2);

/** Sums of a scatter-add whose updates are a product of rows, computed with the product fused into the tree and, for comparison, materialised. */
async function fusedAndMaterialised(build: (graph: Graph) => { product: Tensor; feeds: Record<string, HostTensor> }) {
  const sums: number[][] = [];
  for (const materialise of [false, true]) {
    const graph = new Graph();
    const { product, feeds } = build(graph);
    const updates = reshape(product, [-1, width]);
    const sum = scatterND(graph.input('data', [rows, width]), graph.input('targets', [batch * k, 1], 'int64'), updates, 'add');
    // A second use of the product (an output) makes the lowering keep it.
    const outputs: Record<string, Tensor> = materialise ? { sum, product } : { sum };
    const nodes = graph.ancestors(Object.values(outputs));
    const plan = planRowUpdateFusion(nodes, Object.values(outputs), (node) => node.op === 'ScatterND');
    expect(plan.fused.size).toBe(materialise ? 0 : 1);
    const program = await backend.compile(graph, { outputs });
    const data = hostTensor('float32', [rows, width], wave(rows * width, 0.11));
    const result = await program.run({ ...feeds, data, targets: hostTensor('int64', [batch * k, 1], BigInt64Array.from(targets, BigInt)) });
    sums.push(Array.from((await result.sum.toHost()).data as Float32Array));
    await program.dispose();
  }
  return sums;
}

describe('row scatter-adds of products (the sparse SAE gradients)', () => {
  it('reads an outer product [batch, k, 1] x [batch, 1, width] by rows: the same bits as the materialised product, and the right sums', async () => {
    const v = wave(batch * k, 0.7);
    const dy = wave(batch * width, 0.03);
    const [fused, materialised] = await fusedAndMaterialised((graph) => ({
      product: mul(unsqueeze(graph.input('v', [batch, k]), 2), unsqueeze(graph.input('dy', [batch, width]), 1)),
      feeds: { v: hostTensor('float32', [batch, k], v), dy: hostTensor('float32', [batch, width], dy) },
    }));
    expect(fused).toEqual(materialised);
    const exact = Float64Array.from(wave(rows * width, 0.11), (value) => Math.fround(value));
    targets.forEach((target, entry) => {
      const row = (target + rows) % rows;
      const sample = Math.floor(entry / k);
      for (let column = 0; column < width; column++) exact[row * width + column] += Math.fround(Math.fround(v[entry]) * Math.fround(dy[sample * width + column]));
    });
    fused.forEach((value, position) => expect(Math.abs(value - exact[position])).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(exact[position]))));
  });

  it('folds a Gather of rows used only by the product: [n, 1] x gather(x, samples) as BatchTopK lays it out', async () => {
    const samples = Array.from({ length: batch * k }, (_, entry) => (entry * 13) % batch);
    const [fused, materialised] = await fusedAndMaterialised((graph) => ({
      product: mul(unsqueeze(graph.input('v', [batch * k]), 1), gather(graph.input('x', [batch, width]), graph.input('samples', [batch * k], 'int64'), 0)),
      feeds: {
        v: hostTensor('float32', [batch * k], wave(batch * k, 0.3)),
        x: hostTensor('float32', [batch, width], wave(batch * width, 0.05)),
        samples: hostTensor('int64', [batch * k], BigInt64Array.from(samples, BigInt)),
      },
    }));
    expect(fused).toEqual(materialised);
  });

  it('does not write the product into the model when the tree reads it by rows', () => {
    const graph = new Graph();
    const product = mul(unsqueeze(graph.input('v', [batch, k]), 2), unsqueeze(graph.input('dy', [batch, width]), 1));
    const sum = scatterND(graph.input('data', [rows, width]), graph.input('targets', [batch * k, 1], 'int64'), reshape(product, [-1, width]), 'add');
    const text = new TextDecoder('latin1').decode(compileToOnnx(graph, { sum }).bytes);
    // Node names are `<op>_<id>` of the IR node that owns them: none for the product or its flattening.
    expect(text).not.toContain(`Mul_${product.node.id}`);
    expect(text).toContain(`ScatterND_${sum.node.id}`);
  });
});
