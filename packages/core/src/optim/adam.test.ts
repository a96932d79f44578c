import { describe, expect, it } from 'vitest';
import type { Backend } from '../backend.js';
import { hostTensor } from '../dtype.js';
import { evaluateGraph } from '../reference/evaluate.js';
import { createReferenceBackend } from '../reference/backend.js';
import { Graph } from '../graph.js';
import { adamCorrections, adamUpdate } from './adam.js';

const hyperparameters = { lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

/** Runs `steps` Adam updates of a 3-element parameter through a compiled graph. */
async function runAdam(backend: Backend, gradients: number[][]): Promise<{ param: Float32Array; firstMoment: Float32Array; secondMoment: Float32Array }> {
  const graph = new Graph();
  const param = graph.input('param', [3]);
  const gradient = graph.input('gradient', [3]);
  const firstMoment = graph.input('first_moment', [3]);
  const secondMoment = graph.input('second_moment', [3]);
  const step = graph.input('step', [], 'float64');
  const result = adamUpdate(param, gradient, firstMoment, secondMoment, adamCorrections(step, hyperparameters), hyperparameters);
  const program = await backend.compile(graph, {
    outputs: { next_param: result.param, next_first_moment: result.firstMoment, next_second_moment: result.secondMoment },
  });
  let state = {
    param: hostTensor('float32', [3], [0.5, -1.0, 2.0]),
    first_moment: hostTensor('float32', [3], [0, 0, 0]),
    second_moment: hostTensor('float32', [3], [0, 0, 0]),
  };
  for (const [index, values] of gradients.entries()) {
    const outputs = await program.run({ ...state, gradient: hostTensor('float32', [3], values), step: hostTensor('float64', [], [index + 1]) });
    state = {
      param: (await outputs.next_param.toHost()) as typeof state.param,
      first_moment: (await outputs.next_first_moment.toHost()) as typeof state.param,
      second_moment: (await outputs.next_second_moment.toHost()) as typeof state.param,
    };
  }
  await program.dispose();
  return { param: state.param.data, firstMoment: state.first_moment.data, secondMoment: state.second_moment.data };
}

/**
 * torch.optim.Adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8) on p = [0.5, -1, 2]
 * with gradients g1 = [0.1, -0.2, 0.3], then g2 = [-0.05, 0.4, 0.0]:
 *   m_t = 0.9 m + 0.1 g, v_t = 0.999 v + 0.001 g^2
 *   p -= lr / (1 - 0.9^t) * m_t / (sqrt(v_t) / sqrt(1 - 0.999^t) + 1e-8)
 * Step 1: m = 0.1 g1, v = 0.001 g1^2, so the update is lr * g / (|g| + 1e-8 / sqrt(0.001)... ) = lr * sign(g) nearly:
 *   p1 = [0.5 - 0.001 * 0.1 / (0.1 + 1e-8), -1 + 0.001 * 0.2 / (0.2 + 1e-8), 2 - 0.001 * 0.3 / (0.3 + 1e-8)]
 * Step 2: m = [0.9*0.01 - 0.005, 0.9*(-0.02) + 0.04, 0.9*0.03] = [0.004, 0.022, 0.027]
 *   v = [0.999*1e-5 + 0.001*0.0025, 0.999*4e-5 + 0.001*0.16, 0.999*9e-5] = [1.249e-5, 1.9996e-4, 8.991e-5]
 *   step size = 0.001 / (1 - 0.81) = 0.001 / 0.19, sqrt(1 - 0.999^2) = sqrt(0.001999)
 */
function expectedAfterTwoSteps(): { param: number[]; firstMoment: number[]; secondMoment: number[] } {
  const p1 = [0.5 - (0.001 * 0.1) / (0.1 + 1e-8), -1 + (0.001 * 0.2) / (0.2 + 1e-8), 2 - (0.001 * 0.3) / (0.3 + 1e-8)];
  const m2 = [0.004, 0.022, 0.027];
  const v2 = [1.249e-5, 1.9996e-4, 8.991e-5];
  const stepSize = 0.001 / 0.19;
  const correction = Math.sqrt(0.001999);
  const p2 = p1.map((p, i) => p - (stepSize * m2[i]) / (Math.sqrt(v2[i]) / correction + 1e-8));
  return { param: p2, firstMoment: m2, secondMoment: v2 };
}

// The same graph on onnxruntime CPU is checked against the reference interpreter in @nnd/backend-onnx's
// reference-differential test (core cannot depend on a backend).
describe('adamUpdate on the reference interpreter', () => {
  it('equals torch.optim.Adam computed by hand for two steps', async () => {
    const backend = createReferenceBackend();
    const result = await runAdam(backend, [
      [0.1, -0.2, 0.3],
      [-0.05, 0.4, 0.0],
    ]);
    const expected = expectedAfterTwoSteps();
    for (let i = 0; i < 3; i++) {
      expect(result.param[i]).toBeCloseTo(expected.param[i], 6);
      expect(result.firstMoment[i]).toBeCloseTo(expected.firstMoment[i], 7);
      expect(result.secondMoment[i] / expected.secondMoment[i]).toBeCloseTo(1, 5);
    }
    // The first step moves each coordinate by lr against the gradient's sign (bias correction undoes the zero init); float32 parameters near 2 resolve 2.4e-7.
    const first = await runAdam(backend, [[0.1, -0.2, 0.3]]);
    expect(Array.from(first.param, (value, i) => value - [0.5, -1, 2][i])).toEqual([expect.closeTo(-0.001, 6), expect.closeTo(0.001, 6), expect.closeTo(-0.001, 6)]);
    await backend.dispose();
  });
});

describe('adamCorrections', () => {
  it('computes both corrections in float64 from the step number and rounds each to float32 once', () => {
    const graph = new Graph();
    const step = graph.input('step', [], 'float64');
    const { stepSize, epsilon } = adamCorrections(step, hyperparameters);
    expect([stepSize.dtype, epsilon.dtype]).toEqual(['float32', 'float32']);
    for (const t of [1, 2, 1000]) {
      const [size, eps] = evaluateGraph(graph, [stepSize, epsilon], { step: hostTensor('float64', [], [t]) });
      const secondCorrection = Math.sqrt(1 - 0.999 ** t);
      expect(size.data[0]).toBeCloseTo(Math.fround((secondCorrection * 1e-3) / (1 - 0.9 ** t)), 12);
      expect(eps.data[0]).toBeCloseTo(Math.fround(secondCorrection * 1e-8), 18);
    }
  });

  it('can be replaced by scalars fed per step (a learning-rate schedule): adamUpdate reads only the betas', () => {
    const graph = new Graph();
    const param = graph.input('param', [3]);
    const gradient = graph.input('gradient', [3]);
    const zeros = graph.input('zeros', [3]);
    const fed = { stepSize: graph.input('step_size', []), epsilon: graph.input('epsilon', []) };
    const result = adamUpdate(param, gradient, zeros, zeros, fed, { beta1: 0.9, beta2: 0.999 });
    const built = adamUpdate(param, gradient, zeros, zeros, adamCorrections(graph.scalar(1, 'float64'), hyperparameters), hyperparameters);
    const feeds = {
      param: hostTensor('float32', [3], [0.5, -1, 2]),
      gradient: hostTensor('float32', [3], [0.1, -0.2, 0.3]),
      zeros: hostTensor('float32', [3], [0, 0, 0]),
      step_size: hostTensor('float32', [], [(Math.sqrt(1 - 0.999) * 1e-3) / (1 - 0.9)]),
      epsilon: hostTensor('float32', [], [Math.sqrt(1 - 0.999) * 1e-8]),
    };
    const [fromFeeds, fromGraph] = evaluateGraph(graph, [result.param, built.param], feeds);
    expect(Array.from(fromFeeds.data as Float32Array)).toEqual(Array.from(fromGraph.data as Float32Array));
  });
});
