import { createOnnxBackend } from '@nnd/backend-onnx';
import { afterAll, describe, expect, it } from 'vitest';
import { BYTE_LEVEL_BOS_ID, BYTE_LEVEL_EOS_ID, BYTE_LEVEL_VOCAB_SIZE } from './byte-level-tokenizer.js';
import { HookedTransformer } from './hooked-transformer.js';
import { learningRateAt, trainLanguageModel } from './train-language-model.js';
import type { TransformerConfig } from './transformer-config.js';

const backend = createOnnxBackend({ device: 'cpu' });
afterAll(() => backend.dispose());

const config: TransformerConfig = {
  modelType: 'gpt2',
  layerCount: 2,
  hiddenSize: 32,
  headCount: 2,
  keyValueHeadCount: 2,
  headSize: 16,
  mlpSize: 128,
  vocabSize: BYTE_LEVEL_VOCAB_SIZE,
  contextLength: 32,
  normalization: 'layerNorm',
  normEpsilon: 1e-5,
  activation: 'gelu_new',
  positional: 'learned',
  rotaryDim: 0,
  rotaryBase: 0,
  parallelResidual: false,
  gatedMlp: false,
  tiedEmbeddings: true,
  attentionBias: true,
  mlpBias: true,
  bosTokenId: BYTE_LEVEL_BOS_ID,
  eosTokenId: BYTE_LEVEL_EOS_ID,
};

describe('training a tiny LM end to end (autodiff through embeddings, attention, layer norm, GELU, softmax)', () => {
  it('the loss falls clearly within a few hundred Adam steps', async () => {
    const text = 'the state of the union is strong. we the people of the united states, in order to form a more perfect union. ';
    const corpus = new TextEncoder().encode(text.repeat(40));
    const steps = 300;
    const { losses, parameters } = await trainLanguageModel({
      config,
      backend,
      corpus,
      bosTokenId: BYTE_LEVEL_BOS_ID,
      steps,
      batchSize: 8,
      sequenceLength: 32,
      learningRate: 1e-2,
      warmupSteps: 20,
      seed: 1,
    });
    const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
    const first = mean(losses.slice(0, 10));
    const last = mean(losses.slice(-10));
    console.log(`[tiny LM test] loss ${first.toFixed(3)} -> ${last.toFixed(3)} nats/token over ${steps} steps`);
    expect(first).toBeGreaterThan(4.5); // about ln(258) at initialisation
    expect(last).toBeLessThan(1.0);
    // The trained parameters load into a HookedTransformer and give the same loss there.
    const model = new HookedTransformer(config, parameters, { backend });
    const sample = [[BYTE_LEVEL_BOS_ID, ...corpus.subarray(0, 31)]];
    expect(await model.loss(sample)).toBeLessThan(1.5);
    await model.dispose();
  });

  it('warms up linearly and decays along a cosine to the floor', () => {
    const schedule = { steps: 100, learningRate: 1, warmupSteps: 10, finalLearningRateFraction: 0.1 };
    expect(learningRateAt(0, schedule)).toBeCloseTo(0.1);
    expect(learningRateAt(9, schedule)).toBeCloseTo(1);
    expect(learningRateAt(10, schedule)).toBeCloseTo(1);
    expect(learningRateAt(55, schedule)).toBeCloseTo(0.55);
    expect(learningRateAt(100, schedule)).toBeCloseTo(0.1);
  });
});
