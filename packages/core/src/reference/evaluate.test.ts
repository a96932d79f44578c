import { describe, expect, it } from 'vitest';
import * as nn from '../primitives.js';
import { hostTensor, type HostTensor } from '../dtype.js';
import { DTypeError } from '../errors/dtype-error.js';
import { GraphError } from '../errors/graph-error.js';
import { ShapeError } from '../errors/shape-error.js';
import { Graph } from '../graph.js';
import { evaluateGraph } from './evaluate.js';
import { constant, evaluate, evaluateOne, float64, result } from './test-support.js';

const rows = (count: number) =>
  float64(
    [count, 3],
    Array.from({ length: count * 3 }, (_, i) => i),
  );

function failure(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

describe('evaluateGraph', () => {
  it('evaluates only the ancestors of the outputs', () => {
    const graph = new Graph();
    const x = graph.input('x', [2], 'float64');
    graph.input('unused', [2], 'float64');
    // Evaluating this out-of-range gather would throw.
    nn.gather(x, graph.constant([5], [1], 'int64'));
    const [doubled] = evaluateGraph(graph, [nn.add(x, x)], { x: float64([2], [1, 2]) });
    expect(result(doubled).values).toEqual([2, 4]);
  });

  it('returns boundary typed arrays for every dtype', () => {
    const graph = new Graph();
    const outputs = evaluateGraph(graph, [graph.constant([3], [1], 'int64'), graph.constant([1], [1], 'bool'), graph.constant([1], [1], 'float32')], {});
    expect(outputs[0].data).toEqual(new BigInt64Array([3n]));
    expect(outputs[1].data).toBeInstanceOf(Uint8Array);
    expect(outputs[2].data).toBeInstanceOf(Float32Array);
  });

  it('names the missing input and the expected ones', () => {
    const graph = new Graph();
    const sum = nn.add(graph.input('x', [2], 'float64'), graph.input('y', [2], 'float64'));
    const error = failure(() => evaluateGraph(graph, [sum], { x: float64([2], [1, 2]) }));
    expect(error).toBeInstanceOf(GraphError);
    expect(error.message).toContain("missing feed for graph input 'y'");
    expect(error.message).toContain("'x', 'y'");
    expect(() => evaluateGraph(graph, [sum], { x: float64([2], [1, 2]), y: float64([2], [1, 2]), z: float64([1], [0]) })).toThrow(GraphError);
  });

  it('rejects a feed of the wrong dtype, rank or static size', () => {
    const graph = new Graph();
    const x = graph.input('x', [2, 3], 'float64');
    expect(() => evaluateGraph(graph, [x], { x: hostTensor('float32', [2, 3], new Float32Array(6)) })).toThrow(DTypeError);
    expect(() => evaluateGraph(graph, [x], { x: float64([6], new Array(6).fill(0)) })).toThrow(ShapeError);
    expect(() => evaluateGraph(graph, [x], { x: rows(3) })).toThrow(/declares \[2, 3\]/);
    const mislabelled = { dtype: 'float64', shape: [2, 3], data: new Float32Array(6) } as unknown as HostTensor;
    expect(() => evaluateGraph(graph, [x], { x: mislabelled })).toThrow(DTypeError);
    const short = { dtype: 'float64', shape: [2, 3], data: new Float64Array(5) } as HostTensor;
    expect(() => evaluateGraph(graph, [x], { x: short })).toThrow(ShapeError);
  });

  it('rejects a symbol bound to two sizes, naming both', () => {
    const graph = new Graph();
    const sum = nn.add(nn.reduceSum(graph.input('a', ['batch', 3], 'float64'), [1]), graph.input('b', ['batch'], 'float64'));
    const error = failure(() => evaluateGraph(graph, [sum], { a: rows(2), b: float64([5], [1, 2, 3, 4, 5]) }));
    expect(error).toBeInstanceOf(ShapeError);
    expect(error.message).toMatch(/'batch' is 2 .* but 5/);
  });

  it('checks product dimensions of inputs against their factors', () => {
    const graph = new Graph();
    const flat = graph.input('flat', ['batch*3'], 'float64');
    const sum = nn.add(nn.reshape(graph.input('x', ['batch', 3], 'float64'), ['batch*3']), flat);
    expect(result(evaluateGraph(graph, [sum], { x: rows(2), flat: float64([6], [1, 1, 1, 1, 1, 1]) })[0]).values).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => evaluateGraph(graph, [sum], { x: rows(2), flat: float64([9], new Array(9).fill(0)) })).toThrow(/'batch\*3' is 6/);
  });

  it('resolves symbolic batch dimensions at run time', () => {
    const graph = new Graph();
    const x = graph.input('x', ['batch', 3], 'float64');
    const byProduct = nn.reshape(x, ['batch*3']);
    const inferred = nn.reshape(x, [-1]);
    const back = nn.reshape(inferred, ['batch', 3]);
    const broadcast = nn.expand(graph.constant([1, 2, 3], [1, 3], 'float64'), ['batch', 3]);
    const prefix = nn.slice(graph.constant([10, 11, 12, 13, 14, 15], [6], 'float64'), { starts: [0], ends: ['batch'] });
    for (const count of [2, 5]) {
      const outputs = evaluateGraph(graph, [byProduct, inferred, back, broadcast, prefix], { x: rows(count) }).map(result);
      const expected = Array.from({ length: count * 3 }, (_, i) => i);
      expect(outputs[0]).toEqual({ dtype: 'float64', shape: [count * 3], values: expected });
      expect(outputs[1]).toEqual(outputs[0]);
      expect(outputs[2]).toEqual({ dtype: 'float64', shape: [count, 3], values: expected });
      expect(outputs[3].shape).toEqual([count, 3]);
      expect(outputs[3].values.slice(-3)).toEqual([1, 2, 3]);
      expect(outputs[4].values).toEqual([10, 11, 12, 13, 14, 15].slice(0, count));
    }
  });

  it('runs Identity, StopGradient, Constant and CustomVjp as identities of their values', () => {
    expect(evaluateOne((graph) => nn.identity(constant(graph, [2], [1, 2]))).values).toEqual([1, 2]);
    expect(evaluateOne((graph) => nn.stopGradient(constant(graph, [2], [3, 4]))).values).toEqual([3, 4]);
    expect(evaluateOne((graph) => constant(graph, [2, 1], [5, 6]))).toEqual({ dtype: 'float64', shape: [2, 1], values: [5, 6] });
    const [first, second] = evaluate((graph) =>
      nn.customVjp(
        [constant(graph, [2], [1, 2])],
        (x) => [nn.mul(x, x), nn.neg(x)],
        (_graph, primals) => primals.map(() => undefined),
      ),
    );
    expect(first.values).toEqual([1, 4]);
    expect(second.values).toEqual([-1, -2]);
  });

  it('rejects outputs from another graph', () => {
    const other = new Graph().constant([1], [1]);
    expect(() => evaluateGraph(new Graph(), [other], {})).toThrow(GraphError);
  });
});
