import {
  Graph,
  cast,
  div,
  gather,
  hostTensor,
  matmul,
  range,
  reduceMean,
  scatterElements,
  scatterND,
  shapeOf,
  softmax,
  squeeze,
  topk,
  trilu,
  where,
  type Backend,
  type HostTensor,
  type Tensor,
} from '@nnd/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTfjsBackend } from './index.js';

/**
 * Where tfjs's own op differs from the ONNX spec, the kernel adapts; each
 * adaptation is pinned here with hand-computed values (independent of
 * backend-onnx), on both runtimes available without native TensorFlow.
 */
describe.each(['wasm', 'cpu'] as const)('ONNX semantics on tfjs %s', (runtime) => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await createTfjsBackend({ runtime });
  });
  afterAll(() => backend.dispose());

  async function evaluate(build: (graph: Graph) => Record<string, Tensor>, feeds: Record<string, HostTensor> = {}): Promise<Record<string, number[]>> {
    const graph = new Graph();
    const program = await backend.compile(graph, { outputs: build(graph) });
    const outputs = await program.run(feeds);
    const result: Record<string, number[]> = {};
    for (const [name, tensor] of Object.entries(outputs)) {
      result[name] = Array.from((await tensor.toHost()).data as ArrayLike<number | bigint>, Number);
      tensor.dispose();
    }
    await program.dispose();
    return result;
  }

  it('TopK breaks ties by the lower index, for largest and smallest, on a leading axis', async () => {
    const { largest, largestIndices, smallestIndices } = await evaluate((graph) => {
      // Columns [2, 1, 2, 2] and [0, 0, 1, 0] along axis 0.
      const x = graph.constant([2, 0, 1, 0, 2, 1, 2, 0], [4, 2]);
      const top = topk(x, 3, { axis: 0 });
      return { largest: top.values, largestIndices: top.indices, smallestIndices: topk(x, 2, { axis: 0, largest: false }).indices };
    });
    expect(largest).toEqual([2, 1, 2, 0, 2, 0]);
    expect(largestIndices).toEqual([0, 2, 2, 0, 3, 1]);
    expect(smallestIndices).toEqual([1, 0, 0, 1]);
  });

  it('TopK reads k from a tensor when its size is not known from shapes', async () => {
    const { values } = await evaluate(
      (graph) => {
        const k = graph.input('k', [1], 'int64');
        return { values: topk(graph.constant([5, 1, 4, 2], [4]), k).values };
      },
      { k: hostTensor('int64', [1], [3]) },
    );
    expect(values).toEqual([5, 4, 2]);
  });

  it('integer Div and ReduceMean truncate toward zero (tfjs floors)', async () => {
    const { quotient, mean } = await evaluate((graph) => ({
      quotient: div(graph.constant([-7, 7, -7, 7, 6], [5], 'int64'), graph.constant([2, 2, -2, -2, 3], [5], 'int64')),
      mean: reduceMean(graph.constant([-3, -4, 3, 4], [2, 2], 'int64'), 1),
    }));
    expect(quotient).toEqual([-3, 3, 3, -3, 2]);
    expect(mean).toEqual([-3, 3]);
  });

  it('scatter-add sums repeated indices; scatter without reduction keeps the last write', async () => {
    const { rows, elements, overwritten } = await evaluate((graph) => ({
      rows: scatterND(graph.constant([1, 1, 1, 1, 1, 1], [3, 2]), graph.constant([2, 0, 2, -1], [4, 1], 'int64'), graph.constant([1, 2, 3, 4, 5, 6, 7, 8], [4, 2]), 'add'),
      elements: scatterElements(graph.constant([0, 0, 0], [1, 3]), graph.constant([1, 1, -1], [1, 3], 'int64'), graph.constant([1, 2, 4], [1, 3]), 1, 'add'),
      overwritten: scatterElements(graph.constant([0, 0, 0], [1, 3]), graph.constant([1, 1], [1, 2], 'int64'), graph.constant([1, 2], [1, 2]), 1),
    }));
    expect(rows).toEqual([4, 5, 1, 1, 1 + 1 + 5 + 7, 1 + 2 + 6 + 8]);
    expect(elements).toEqual([0, 3, 4]);
    expect(overwritten).toEqual([0, 2, 0]);
  });

  it('Gather takes negative indices from the end', async () => {
    const { rows } = await evaluate((graph) => ({ rows: gather(graph.constant([10, 20, 30], [3]), graph.constant([-1, 0, -3], [3], 'int64')) }));
    expect(rows).toEqual([30, 10, 10]);
  });

  it('Cast to bool is value != 0 (NaN is true), and Where selects bool branches', async () => {
    const { truth, chosen } = await evaluate((graph) => {
      const truth = cast(graph.constant([Number.NaN, 0, -0, 2, -0.5], [5]), 'bool');
      return { truth, chosen: where(graph.constant([1, 0, 1, 0, 1], [5], 'bool'), truth, graph.constant([1, 1, 0, 0, 0], [5], 'bool')) };
    });
    expect(truth).toEqual([1, 0, 0, 1, 1]);
    expect(chosen).toEqual([1, 1, 0, 0, 1]);
  });

  it('int64 MatMul, Softmax on a leading axis and Trilu over NaN', async () => {
    const { product, probabilities, masked } = await evaluate((graph) => ({
      product: matmul(graph.constant([1, -2, 3, 4], [2, 2], 'int64'), graph.constant([5, 6], [2], 'int64')),
      probabilities: softmax(graph.constant([0, 0, Math.log(3), 0], [2, 2]), 0),
      masked: trilu(graph.constant([1, Number.NaN, Number.POSITIVE_INFINITY, 4], [2, 2])),
    }));
    expect(product).toEqual([-7, 39]);
    [0.25, 0.5, 0.75, 0.5].forEach((expected, i) => expect(probabilities[i]).toBeCloseTo(expected, 6));
    expect(masked).toEqual([1, Number.NaN, 0, 4]);
  });

  it('Range with bounds computed at run time, each element from the bounds', async () => {
    const { positions, fractions } = await evaluate(
      (graph) => {
        const x = graph.input('x', ['batch', 2]);
        return {
          positions: range(0, squeeze(shapeOf(x, 0, 1), 0), 1, { length: 'batch' }),
          fractions: range(0, 1, 0.1, { graph, dtype: 'float32' }),
        };
      },
      { x: hostTensor('float32', [4, 2], new Float32Array(8)) },
    );
    expect(positions).toEqual([0, 1, 2, 3]);
    // The bound is the float32 0.1; element i is i * delta rounded once, not i roundings of repeated addition.
    expect(fractions).toEqual(Array.from(Float32Array.from({ length: 10 }, (_, i) => i * Math.fround(0.1))));
  });
});
