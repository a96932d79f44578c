import { describe, expect, it } from 'vitest';
import { hostTensor } from '../dtype.js';
import { createReferenceBackend } from '../reference/backend.js';
import { Graph } from '../graph.js';
import { mul } from '../primitives.js';
import { adamCorrections } from './adam.js';
import { clippedAdamStep } from './clipped-adam-step.js';

const adam = { lr: 0.1, beta1: 0.9, beta2: 0.99, epsilon: 1e-8 };

/**
 * One step from zero moments on parameters a = [1, 2], b = [3] with gradients
 * [3, 4] and [12] (global norm 13), against the arithmetic written out:
 * torch's clip_grad_norm_ then torch.optim.Adam's first step, p - lr * g / (|g| + eps).
 */
async function step(maxGradNorm: number, constrain = false) {
  const graph = new Graph();
  const params = { a: graph.input('a', [2]), b: graph.input('b', [1]) };
  const gradients = { a: graph.input('ga', [2]), b: graph.input('gb', [1]) };
  const { gradientNorm, next } = clippedAdamStep({
    params,
    gradients,
    maxGradNorm,
    adam,
    corrections: adamCorrections(graph.input('step', [], 'float64'), adam),
    moments: (name, param) => ({ firstMoment: graph.input(`m.${name}`, param.shape), secondMoment: graph.input(`v.${name}`, param.shape) }),
    // A constraint that zeroes b's gradient: Adam then leaves b where it is.
    constrain: constrain ? (current, clipped) => ({ params: current, gradients: { ...clipped, b: mul(clipped.b, 0) } }) : undefined,
  });
  const program = await createReferenceBackend().compile(graph, {
    outputs: { norm: gradientNorm, a: next.a.param, b: next.b.param, ma: next.a.firstMoment, vb: next.b.secondMoment },
  });
  const f = (shape: number[], values: number[]) => hostTensor('float32', shape, values);
  const outputs = await program.run({
    a: f([2], [1, 2]),
    b: f([1], [3]),
    ga: f([2], [3, 4]),
    gb: f([1], [12]),
    step: hostTensor('float64', [], [1]),
    'm.a': f([2], [0, 0]),
    'v.a': f([2], [0, 0]),
    'm.b': f([1], [0]),
    'v.b': f([1], [0]),
  });
  const read = async (name: string) => Array.from((await outputs[name].toHost()).data as Float32Array);
  return { norm: (await read('norm'))[0], a: await read('a'), b: await read('b'), ma: await read('ma'), vb: await read('vb') };
}

describe('clippedAdamStep', () => {
  it('clips the global norm, then takes one Adam step of every parameter', async () => {
    const result = await step(6.5);
    const scale = 6.5 / (13 + 1e-6);
    expect(result.norm).toBeCloseTo(13, 5);
    expect(result.ma).toEqual([expect.closeTo(0.1 * 3 * scale, 6), expect.closeTo(0.1 * 4 * scale, 6)]);
    expect(result.vb[0]).toBeCloseTo(0.01 * (12 * scale) ** 2, 5);
    // Adam's first step moves each element by lr against its gradient's sign.
    expect(result.a).toEqual([expect.closeTo(0.9, 5), expect.closeTo(1.9, 5)]);
    expect(result.b).toEqual([expect.closeTo(2.9, 5)]);
  });

  it('measures without clipping when the limit is Infinity', async () => {
    const result = await step(Infinity);
    expect(result.norm).toBeCloseTo(13, 5);
    expect(result.ma).toEqual([expect.closeTo(0.3, 6), expect.closeTo(0.4, 6)]);
    expect(result.vb[0]).toBeCloseTo(0.01 * 144, 4);
  });

  it('applies the constraint to the clipped gradients before Adam', async () => {
    const result = await step(6.5, true);
    expect(result.b).toEqual([3]);
    expect(result.vb).toEqual([0]);
    expect(result.a).toEqual([expect.closeTo(0.9, 5), expect.closeTo(1.9, 5)]);
  });
});
