import { createReferenceBackend, Graph, hostTensor } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { activationSums, reconstructionSums } from './reconstruction-sums.js';

const x = [0, 0, 2, 4, 1, 2, 1, 2];
const reconstruction = [0, 1, 2, 3, 1, 2, 2, 2];
const featureActs = [1, 0, 0, 2, 0, 0.5, 0, 0, 0, 3, 0, 0];

async function run(weights: number[] | undefined) {
  const graph = new Graph();
  const samples = graph.input('x', [4, 2]);
  const reconstructed = graph.input('reconstruction', [4, 2]);
  const features = graph.input('features', [4, 3]);
  const weightInput = weights === undefined ? undefined : graph.input('weights', [4, 1]);
  const count = weightInput === undefined ? graph.scalar(4) : graph.apply('ReduceSum', [weightInput], { axes: [], keepdims: false })[0];
  const sums = activationSums(samples, weightInput, count);
  const member = reconstructionSums(samples, reconstructed, features, weightInput);
  const program = await createReferenceBackend().compile(graph, { outputs: { ...sums, ...member } });
  const feeds = {
    x: hostTensor('float32', [4, 2], x),
    reconstruction: hostTensor('float32', [4, 2], reconstruction),
    features: hostTensor('float32', [4, 3], featureActs),
    ...(weights === undefined ? {} : { weights: hostTensor('float32', [4, 1], weights) }),
  };
  const outputs = await program.run(feeds);
  const read = async (name: string) => Array.from((await outputs[name].toHost()).data as Float32Array);
  return {
    count: (await read('count'))[0],
    sum: await read('sum'),
    centeredSquareSum: (await read('centeredSquareSum'))[0],
    squareSum: (await read('squareSum'))[0],
    squaredErrorSum: (await read('squaredErrorSum'))[0],
    firingCounts: await read('firingCounts'),
  };
}

describe('activationSums and reconstructionSums (the per-batch sums the evaluation program returns)', () => {
  it('match a hand computation over all positions', async () => {
    // x rows (0,0) (2,4) (1,2) (1,2): mean (1,2); Σ‖x − mean‖² = 10; Σ‖x‖² = 30; Σ‖x − x̂‖² = 3.
    expect(await run(undefined)).toEqual({ count: 4, sum: [4, 8], centeredSquareSum: 10, squareSum: 30, squaredErrorSum: 3, firingCounts: [3, 0, 1] });
  });

  it('leave out the positions whose weight is 0 (excluded BOS), centring on the mean of the rest', async () => {
    // Without row 0: rows (2,4) (1,2) (1,2), mean (4/3, 8/3); Σ‖x − mean‖² = (4/9 + 16/9) + 2 * (1/9 + 4/9) = 30/9.
    const sums = await run([0, 1, 1, 1]);
    expect(sums.count).toBe(3);
    expect(sums.sum).toEqual([4, 8]);
    expect(sums.centeredSquareSum).toBeCloseTo(30 / 9, 5);
    expect(sums.squareSum).toBe(30);
    expect(sums.squaredErrorSum).toBe(2);
    expect(sums.firingCounts).toEqual([2, 0, 1]);
  });
});
