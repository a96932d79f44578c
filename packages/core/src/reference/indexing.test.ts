import { describe, expect, it } from 'vitest';
import * as nn from '../primitives.js';
import { ShapeError } from '../errors/shape-error.js';
import { constant, evaluate, evaluateOne, int64 } from './test-support.js';

describe('reference indexing kernels', () => {
  it('gathers along an axis with negative indices', () => {
    const rows = evaluateOne((graph) => nn.gather(constant(graph, [3, 2], [1, 2, 3, 4, 5, 6]), constant(graph, [2, 2], [0, -1, 1, 2], 'int64'), 0));
    expect(rows).toEqual({ dtype: 'float64', shape: [2, 2, 2], values: [1, 2, 5, 6, 3, 4, 5, 6] });
    const columns = evaluateOne((graph) => nn.gather(constant(graph, [2, 3], [1, 2, 3, 4, 5, 6]), constant(graph, [2], [2, -3], 'int64'), 1));
    expect(columns).toEqual({ dtype: 'float64', shape: [2, 2], values: [3, 1, 6, 4] });
    expect(evaluateOne((graph) => nn.gather(constant(graph, [3], [7, 8, 9]), constant(graph, [], [-2], 'int64')))).toEqual({ dtype: 'float64', shape: [], values: [8] });
  });

  it('rejects out-of-range gather indices', () => {
    expect(() => evaluateOne((graph) => nn.gather(constant(graph, [3], [7, 8, 9]), constant(graph, [1], [3], 'int64')))).toThrow(ShapeError);
  });

  it('gathers elements, as in the ONNX example', () => {
    const result = evaluateOne((graph) => nn.gatherElements(constant(graph, [2, 2], [1, 2, 3, 4]), constant(graph, [2, 2], [0, 0, 1, 0], 'int64'), 1));
    expect(result.values).toEqual([1, 1, 4, 3]);
    const byRow = evaluateOne((graph) => nn.gatherElements(constant(graph, [3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]), constant(graph, [2, 3], [1, 2, 0, 2, 0, -3], 'int64'), 0));
    expect(byRow).toEqual({ dtype: 'float64', shape: [2, 3], values: [4, 8, 3, 7, 2, 3] });
  });

  it('scatters elements with reduction none and add', () => {
    const data = (graph: Parameters<typeof constant>[0]) => constant(graph, [1, 5], [1, 2, 3, 4, 5]);
    const assigned = evaluateOne((graph) => nn.scatterElements(data(graph), constant(graph, [1, 2], [1, 3], 'int64'), constant(graph, [1, 2], [1.1, 2.1]), 1));
    expect(assigned.values).toEqual([1, 1.1, 3, 2.1, 5]);
    const added = evaluateOne((graph) => nn.scatterElements(data(graph), constant(graph, [1, 3], [1, -4, -1], 'int64'), constant(graph, [1, 3], [10, 20, 30]), 1, 'add'));
    expect(added.values).toEqual([1, 32, 3, 4, 35]);
  });

  it('scatters slices by ND index, as in the ONNX examples', () => {
    const first = evaluateOne((graph) => nn.scatterND(constant(graph, [8], [1, 2, 3, 4, 5, 6, 7, 8]), constant(graph, [4, 1], [4, 3, 1, 7], 'int64'), constant(graph, [4], [9, 10, 11, 12])));
    expect(first.values).toEqual([1, 11, 3, 10, 9, 6, 7, 12]);
    const rows = evaluateOne((graph) => nn.scatterND(constant(graph, [3, 2], [1, 2, 3, 4, 5, 6]), constant(graph, [2, 1], [-1, 0], 'int64'), constant(graph, [2, 2], [10, 20, 30, 40]), 'add'));
    expect(rows.values).toEqual([31, 42, 3, 4, 15, 26]);
    const element = evaluateOne((graph) => nn.scatterND(constant(graph, [2, 2], [1, 2, 3, 4]), constant(graph, [2, 2], [1, 0, 1, 0], 'int64'), constant(graph, [2], [5, 6]), 'add'));
    expect(element.values).toEqual([1, 2, 14, 4]);
  });

  it('takes the top k, largest or smallest, along an axis', () => {
    const x = (graph: Parameters<typeof constant>[0]) => constant(graph, [2, 4], [3, 1, 4, 1, 5, 9, 2, 6]);
    const [values, indices] = evaluate((graph) => {
      const top = nn.topk(x(graph), 2);
      return [top.values, top.indices];
    });
    expect(values).toEqual({ dtype: 'float64', shape: [2, 2], values: [4, 3, 9, 6] });
    expect(indices).toEqual({ dtype: 'int64', shape: [2, 2], values: [2, 0, 1, 3] });
    const [smallest, smallestIndices] = evaluate((graph) => {
      const top = nn.topk(x(graph), 1, { axis: 0, largest: false });
      return [top.values, top.indices];
    });
    expect(smallest.values).toEqual([3, 1, 2, 1]);
    expect(smallestIndices.values).toEqual([0, 0, 1, 0]);
  });

  it('breaks TopK ties by lower index first', () => {
    const [values, indices] = evaluate((graph) => {
      const top = nn.topk(constant(graph, [6], [2, 5, 1, 5, 2, 5]), 4);
      return [top.values, top.indices];
    });
    expect(values.values).toEqual([5, 5, 5, 2]);
    expect(indices.values).toEqual([1, 3, 5, 0]);
    const [, lowest] = evaluate((graph) => {
      const top = nn.topk(constant(graph, [5], [2, 1, 2, 1, 0]), 3, { largest: false });
      return [top.values, top.indices];
    });
    expect(lowest.values).toEqual([4, 1, 3]);
  });

  it('reads k at run time', () => {
    const build = (graph: Parameters<typeof constant>[0]) => {
      const top = nn.topk(constant(graph, [4], [1, 3, 2, 4]), graph.input('k', [1], 'int64'), { kDim: 'k' });
      return [top.values, top.indices];
    };
    expect(evaluate(build, { k: int64([1], [3]) })[0]).toEqual({ dtype: 'float64', shape: [3], values: [4, 3, 2] });
    expect(evaluate(build, { k: int64([1], [1]) })[1].values).toEqual([3]);
    expect(() => evaluate(build, { k: int64([1], [5]) })).toThrow(ShapeError);
  });
});
