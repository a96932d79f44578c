import { DTypeError, Graph, cast, mul, pow, sub, type Tensor } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { partitionForHost } from './host-partition.js';

function partition(outputs: Tensor[]) {
  return partitionForHost(outputs[0].graph.ancestors(outputs), new Set(outputs));
}

describe('partitionForHost', () => {
  it('leaves float64 fed and constant values to the host and hands tfjs their float32 results', () => {
    const graph = new Graph();
    const step = graph.input('step', [], 'float64');
    const x = graph.input('x', [2]);
    const correction = cast(sub(graph.scalar(1, 'float64'), pow(graph.scalar(0.9, 'float64'), step)), 'float32');
    const y = mul(x, correction);
    const { deviceSchedule, hostResults } = partition([y, step]);
    expect(hostResults).toEqual([step, correction]);
    // tfjs runs x and the product only; the float64 nodes and their constants stay on the host.
    expect(deviceSchedule.map((node) => node.op)).toEqual(['Input', 'Mul']);
  });

  it('runs everything on tfjs when there is no float64', () => {
    const graph = new Graph();
    const x = graph.input('x', [2]);
    const y = mul(x, 2);
    expect(partition([y])).toEqual({ deviceSchedule: graph.ancestors([y]), hostResults: [] });
  });

  it('refuses float64 computed from tfjs tensors', () => {
    const graph = new Graph();
    const x = graph.input('x', [2]);
    expect(() => partition([mul(cast(x, 'float64'), graph.scalar(2, 'float64'))])).toThrow(DTypeError);
    expect(() => partition([cast(mul(x, 2), 'float64')])).toThrow(/Cast \(node \d+\): computes float64 from Tensor#\d+\(Mul/);
  });
});
