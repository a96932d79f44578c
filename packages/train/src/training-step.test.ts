import { createOnnxBackend } from '@nnd/backend-onnx';
import { createReferenceBackend, Rng, type Backend } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { linearDecomposition } from './linear-decomposition.test-support.js';
import { gaussianSource } from './synthetic-source.test-support.js';
import { trainDecomposition, trainDecompositionGroup } from './train-decomposition.js';

const actSize = 3;
const dictSize = 2;
const batchSize = 4;
const l1Coefficient = 0.1;
const trainConfig = { num_tokens: batchSize, batch_size: batchSize, lr: 0.01, beta1: 0.9, beta2: 0.999, max_grad_norm: 0.5, seed: 7 };

/**
 * The same step in float64 JavaScript with gradients derived by hand:
 * z = (x - b) W, r = z W^T + b, loss = mean((r - x)^2) + l1 * mean_b sum_j |z|;
 * then clip to max_grad_norm, make W's columns unit norm and remove the
 * gradient's parallel part, then one Adam step (t = 1).
 */
function referenceStep(W: Float32Array, b: Float32Array, x: Float32Array) {
  const at = (matrix: ArrayLike<number>, row: number, column: number, columns: number) => matrix[row * columns + column];
  const z = new Float64Array(batchSize * dictSize);
  for (let n = 0; n < batchSize; n++) {
    for (let j = 0; j < dictSize; j++) {
      let sum = 0;
      for (let i = 0; i < actSize; i++) sum += (at(x, n, i, actSize) - b[i]) * at(W, i, j, dictSize);
      z[n * dictSize + j] = sum;
    }
  }
  const residual = new Float64Array(batchSize * actSize);
  let l2 = 0;
  for (let n = 0; n < batchSize; n++) {
    for (let i = 0; i < actSize; i++) {
      let r = b[i];
      for (let j = 0; j < dictSize; j++) r += z[n * dictSize + j] * at(W, i, j, dictSize);
      residual[n * actSize + i] = r - at(x, n, i, actSize);
      l2 += residual[n * actSize + i] ** 2;
    }
  }
  l2 /= batchSize * actSize;
  const l1Norm = z.reduce((sum, value) => sum + Math.abs(value), 0) / batchSize;

  // d loss / d r, then through the decoder (r = z W^T + b) and the encoder (z = (x - b) W).
  const dr = residual.map((value) => (2 * value) / (batchSize * actSize));
  const dz = new Float64Array(batchSize * dictSize);
  const gradW = new Float64Array(actSize * dictSize);
  const gradB = new Float64Array(actSize);
  for (let n = 0; n < batchSize; n++) {
    for (let j = 0; j < dictSize; j++) {
      let sum = (l1Coefficient / batchSize) * Math.sign(z[n * dictSize + j]);
      for (let i = 0; i < actSize; i++) sum += dr[n * actSize + i] * at(W, i, j, dictSize);
      dz[n * dictSize + j] = sum;
    }
  }
  for (let n = 0; n < batchSize; n++) {
    for (let i = 0; i < actSize; i++) {
      gradB[i] += dr[n * actSize + i];
      for (let j = 0; j < dictSize; j++) {
        gradW[i * dictSize + j] += dr[n * actSize + i] * z[n * dictSize + j] + (at(x, n, i, actSize) - b[i]) * dz[n * dictSize + j];
        gradB[i] -= dz[n * dictSize + j] * at(W, i, j, dictSize);
      }
    }
  }
  const norm = Math.sqrt([...gradW, ...gradB].reduce((sum, value) => sum + value * value, 0));
  const scale = Math.min(1, trainConfig.max_grad_norm / (norm + 1e-6));
  const clippedW = gradW.map((value) => value * scale);
  const clippedB = gradB.map((value) => value * scale);

  const unitW = new Float64Array(actSize * dictSize);
  const constrainedW = new Float64Array(actSize * dictSize);
  for (let j = 0; j < dictSize; j++) {
    let length = 0;
    for (let i = 0; i < actSize; i++) length += at(W, i, j, dictSize) ** 2;
    length = Math.sqrt(length);
    let parallel = 0;
    for (let i = 0; i < actSize; i++) {
      unitW[i * dictSize + j] = at(W, i, j, dictSize) / length;
      parallel += clippedW[i * dictSize + j] * unitW[i * dictSize + j];
    }
    for (let i = 0; i < actSize; i++) constrainedW[i * dictSize + j] = clippedW[i * dictSize + j] - parallel * unitW[i * dictSize + j];
  }

  // Adam at t = 1: m = (1 - beta1) g, v = (1 - beta2) g^2, bias corrections 1 - beta1 and sqrt(1 - beta2).
  const adam = (param: number, gradient: number) => {
    const m = (1 - trainConfig.beta1) * gradient;
    const v = (1 - trainConfig.beta2) * gradient * gradient;
    return param - (trainConfig.lr / (1 - trainConfig.beta1)) * (m / (Math.sqrt(v) / Math.sqrt(1 - trainConfig.beta2) + 1e-8));
  };
  return {
    W: Array.from(unitW, (param, index) => adam(param, constrainedW[index])),
    b: Array.from(b, (param, index) => adam(param, clippedB[index])),
    metrics: { loss: l2 + l1Coefficient * l1Norm, l2_loss: l2, l1_loss: l1Coefficient * l1Norm, l1_norm: l1Norm },
    clipped: scale < 1,
  };
}

describe.each([
  ['reference', createReferenceBackend],
  ['onnx cpu', () => createOnnxBackend({ device: 'cpu' })],
] as [string, () => Backend][])('one training step on %s', (_, makeBackend) => {
  it('equals the hand-derived forward, gradient, clipping, constraint and Adam step', async () => {
    const decomposition = linearDecomposition({ act_size: actSize, dict_size: dictSize, l1_coeff: l1Coefficient });
    const initial = decomposition.initialParams(new Rng(trainConfig.seed));
    const batch = (await gaussianSource(batchSize, actSize, 3).nextBatch()) as Float32Array;
    const expected = referenceStep(initial.W.data as Float32Array, initial.b.data as Float32Array, batch);
    expect(expected.clipped).toBe(true);

    const logged: [Record<string, number>, number][] = [];
    const result = await trainDecomposition(decomposition, gaussianSource(batchSize, actSize, 3), trainConfig, {
      backend: makeBackend(),
      logger: { log: (metrics, step) => void logged.push([{ ...metrics }, step]) },
    });
    expect(result.status).toBe('completed');
    expect(result.step).toBe(1);
    Array.from(result.params.W.data as Float32Array).forEach((value, index) => expect(value).toBeCloseTo(expected.W[index], 5));
    Array.from(result.params.b.data as Float32Array).forEach((value, index) => expect(value).toBeCloseTo(expected.b[index], 5));
    expect(Array.from(result.state.counter.data as Float32Array)).toEqual([1]);
    expect(logged).toHaveLength(1);
    expect(logged[0][1]).toBe(0);
    for (const [name, value] of Object.entries(expected.metrics)) expect(logged[0][0][name]).toBeCloseTo(value, 5);
  });
});

describe('trainDecompositionGroup', () => {
  it('trains each member exactly as it would be trained alone, in one program', async () => {
    const backend = createOnnxBackend({ device: 'cpu' });
    const make = (dictionary: number) => linearDecomposition({ act_size: 5, dict_size: dictionary, l1_coeff: 0.01 });
    const configs = [
      { num_tokens: 8 * 5, batch_size: 8, lr: 0.01, seed: 1 },
      { num_tokens: 8 * 5, batch_size: 8, lr: 0.003, beta2: 0.9, max_grad_norm: 0.1, seed: 2 },
    ];
    const logged: Record<string, number>[] = [];
    const group = await trainDecompositionGroup([make(3), make(4)], gaussianSource(8, 5, 9), configs, {
      backend,
      logger: { log: (metrics) => void logged.push({ ...metrics }) },
    });
    expect(group.step).toBe(5);
    expect(Object.keys(logged[0]).sort()).toEqual(['l1_loss_0', 'l1_loss_1', 'l1_norm_0', 'l1_norm_1', 'l2_loss_0', 'l2_loss_1', 'loss_0', 'loss_1']);
    for (const [index, dictionary] of [3, 4].entries()) {
      const alone = await trainDecomposition(make(dictionary), gaussianSource(8, 5, 9), configs[index], { backend });
      expect(Array.from(group.members[index].params.W.data as Float32Array)).toEqual(Array.from(alone.params.W.data as Float32Array));
      expect(Array.from(group.members[index].params.b.data as Float32Array)).toEqual(Array.from(alone.params.b.data as Float32Array));
    }
  });

  it('rejects configs that disagree on the shared loop', async () => {
    const make = () => linearDecomposition({ act_size: 5, dict_size: 3, l1_coeff: 0.01 });
    await expect(
      trainDecompositionGroup(
        [make(), make()],
        gaussianSource(8, 5, 9),
        [
          { batch_size: 8, num_tokens: 80 },
          { batch_size: 16, num_tokens: 80 },
        ],
        {
          backend: createReferenceBackend(),
        },
      ),
    ).rejects.toThrow(/'batch_size' is 8 in config 0 but 16 in config 1/);
  });
});
