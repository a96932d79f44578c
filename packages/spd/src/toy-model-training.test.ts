import { createOnnxBackend } from '@nnd/backend-onnx';
import { evaluateGraph, Graph, hostTensor, Rng, type HostTensor } from '@nnd/core';
import { trainDecomposition } from '@nnd/train';
import { describe, expect, it } from 'vitest';
import { randomUnitEmbedding, residualMlpTarget, trainableResidualMlp } from './residual-mlp.js';
import type { SpdTarget } from './spd-target.js';
import { sparseFeatureSource, tmsTarget, trainableTms } from './tms.js';
import type { TrainableToyModel } from './toy-model-training.js';

/** The task's MSE of the target built from `params`, on one held-out batch. */
function taskLoss<W>(model: TrainableToyModel<W>, toTarget: (weights: W) => SpdTarget, params: Record<string, HostTensor>, batch: Float32Array, labels: (x: number) => number): number {
  const target = toTarget(model.weightsFrom(params));
  const features = target.inputs[0].width;
  const graph = new Graph();
  const frozen = Object.fromEntries(Object.entries(target.weights()).map(([name, value]) => [name, graph.constant(value)]));
  const [out] = evaluateGraph(graph, [target.forward(graph, { features: graph.constant(hostTensor('float32', [batch.length / features, features], batch)) }, frozen, {})], {});
  let sum = 0;
  batch.forEach((value, index) => (sum += (Number(out.data[index]) - labels(value)) ** 2));
  return sum / batch.length;
}

async function trained<W>(model: TrainableToyModel<W>, source: ReturnType<typeof sparseFeatureSource>, steps: number, batch: number, lr: number) {
  const result = await trainDecomposition(model, source, { num_tokens: steps * batch, batch_size: batch, lr, beta2: 0.999, seed: 0 }, { backend: createOnnxBackend(), handleSignals: false });
  return result.params;
}

describe('the toy targets\u2019 own training tasks', () => {
  it('trainableTms learns to reconstruct sparse features through the tied bottleneck, and its weights make the TMS target', async () => {
    const model = trainableTms(8, 3);
    const initial = model.initialParams(new Rng(0));
    expect(initial.W.shape).toEqual([8, 3]);
    expect(Array.from(initial.b.data as Float32Array)).toEqual(new Array(8).fill(0));
    const params = await trained(model, sparseFeatureSource(8, 512, 0.1, 1), 300, 512, 5e-3);
    const heldOut = (await sparseFeatureSource(8, 2048, 0.1, 99).nextBatch()) as { features: Float32Array };
    const before = taskLoss(model, tmsTarget, initial, heldOut.features, (x) => x);
    const after = taskLoss(model, tmsTarget, params, heldOut.features, (x) => x);
    expect(after).toBeLessThan(before * 0.6);
  }, 120_000);

  it('trainableResidualMlp learns x + relu(x) through its MLP with the embedding fixed', async () => {
    const embedding = randomUnitEmbedding(12, 40, new Rng(0));
    const model = trainableResidualMlp(embedding, { dMlp: 6 });
    const initial = model.initialParams(new Rng(0));
    expect(Object.fromEntries(Object.entries(initial).map(([name, value]) => [name, value.shape]))).toEqual({ 'layers.0.mlp_in': [40, 6], 'layers.0.mlp_out': [6, 40] });
    const params = await trained(model, sparseFeatureSource(12, 512, 0.1, 1, [-1, 1]), 300, 512, 3e-3);
    expect(model.weightsFrom(params).embedding).toBe(embedding);
    const heldOut = (await sparseFeatureSource(12, 2048, 0.1, 99, [-1, 1]).nextBatch()) as { features: Float32Array };
    const labels = (x: number) => x + Math.max(0, x);
    const before = taskLoss(model, residualMlpTarget, initial, heldOut.features, labels);
    const after = taskLoss(model, residualMlpTarget, params, heldOut.features, labels);
    expect(after).toBeLessThan(before * 0.6);
  }, 120_000);

  it('sparseFeatureSource draws active values from the range it is given', async () => {
    const { features } = (await sparseFeatureSource(10, 1000, 0.5, 3, [-1, 1]).nextBatch()) as { features: Float32Array };
    const active = Array.from(features).filter((value) => value !== 0);
    expect(active.length).toBeGreaterThan(4000);
    expect(Math.min(...active)).toBeLessThan(-0.9);
    expect(Math.max(...active)).toBeGreaterThan(0.9);
  });
});
