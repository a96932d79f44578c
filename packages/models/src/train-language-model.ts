import { ConfigError, Rng, type Backend, type DeviceTensor, type Feed, type HostTensor } from '@nnd/core';
import type { FloatTensor } from './host-tensors.js';
import { initializeParameters } from './initialize-parameters.js';
import { DEFAULT_ADAM, buildTrainingStep, trainingNames, type AdamSettings } from './training-step.js';
import type { TransformerConfig } from './transformer-config.js';

export interface TrainingProgress {
  step: number;
  loss: number;
  gradientNorm: number;
  learningRate: number;
  elapsedSeconds: number;
}

export interface LanguageModelTrainingOptions {
  config: TransformerConfig;
  backend: Backend;
  /** The training stream as token ids; windows of it, after a BOS token, are the examples. */
  corpus: ArrayLike<number>;
  bosTokenId: number;
  steps: number;
  batchSize: number;
  /** Tokens per example including the BOS (at most the context length). */
  sequenceLength: number;
  /** Peak learning rate, reached after `warmupSteps` linear warmup, then cosine decay to `finalLearningRateFraction` of it. */
  learningRate: number;
  warmupSteps?: number;
  finalLearningRateFraction?: number;
  adam?: AdamSettings;
  seed?: number;
  /** Called every `logEvery` steps and after the last. */
  log?: (progress: TrainingProgress) => void;
  logEvery?: number;
}

export interface LanguageModelTrainingResult {
  parameters: Map<string, FloatTensor>;
  /** Loss of every step, in nats per token. */
  losses: number[];
}

/** Linear warmup then cosine decay to a floor: the schedule GPT-2-style training uses. */
export function learningRateAt(step: number, options: Pick<LanguageModelTrainingOptions, 'steps' | 'learningRate' | 'warmupSteps' | 'finalLearningRateFraction'>): number {
  const warmup = options.warmupSteps ?? 0;
  const floor = options.learningRate * (options.finalLearningRateFraction ?? 0.1);
  if (step < warmup) return (options.learningRate * (step + 1)) / warmup;
  const progress = (step - warmup) / Math.max(1, options.steps - warmup);
  return floor + 0.5 * (options.learningRate - floor) * (1 + Math.cos(Math.PI * Math.min(1, progress)));
}

/**
 * Trains a causal LM from scratch with nnd's own autodiff and Adam: one
 * compiled program per step (see buildTrainingStep), parameters and Adam
 * moments kept as backend tensors between steps, random windows of the
 * corpus as examples. Deterministic for a seed.
 */
export async function trainLanguageModel(options: LanguageModelTrainingOptions): Promise<LanguageModelTrainingResult> {
  const { config, backend, corpus, batchSize, sequenceLength, steps } = options;
  if (sequenceLength < 2 || sequenceLength > config.contextLength) {
    throw new ConfigError(`trainLanguageModel: sequenceLength must be in [2, ${config.contextLength}], got ${sequenceLength}.`);
  }
  if (corpus.length < sequenceLength) throw new ConfigError(`trainLanguageModel: the corpus has ${corpus.length} tokens, fewer than one example of ${sequenceLength - 1}.`);
  const adam = options.adam ?? DEFAULT_ADAM;
  const rng = new Rng(options.seed ?? 0);
  const initial = initializeParameters(config, rng);
  const step = buildTrainingStep(config, adam);
  const program = await backend.compile(step.graph, { outputs: step.outputs, hostOutputs: ['loss', 'gradient_norm'] });

  const state = new Map<string, Feed>();
  for (const name of step.parameterNames) {
    const parameter = initial.get(name)!;
    state.set(name, parameter);
    state.set(trainingNames.firstMoment(name), { dtype: 'float32', shape: parameter.shape, data: new Float32Array(parameter.data.length) });
    state.set(trainingNames.secondMoment(name), { dtype: 'float32', shape: parameter.shape, data: new Float32Array(parameter.data.length) });
  }
  const stateNames = [...state.keys()];
  const losses: number[] = [];
  const start = performance.now();
  const tokens = new BigInt64Array(batchSize * sequenceLength);
  const windows = corpus.length - (sequenceLength - 1) + 1;
  for (let index = 0; index < steps; index++) {
    for (let row = 0; row < batchSize; row++) {
      const offset = rng.int(windows);
      tokens[row * sequenceLength] = BigInt(options.bosTokenId);
      for (let position = 1; position < sequenceLength; position++) tokens[row * sequenceLength + position] = BigInt(corpus[offset + position - 1]);
    }
    const learningRate = learningRateAt(index, options);
    const t = index + 1;
    const scalar = (value: number): HostTensor => ({ dtype: 'float32', shape: [], data: Float32Array.of(value) });
    const feeds: Record<string, Feed> = Object.fromEntries(state);
    feeds.tokens = { dtype: 'int64', shape: [batchSize, sequenceLength], data: tokens.slice() };
    feeds[trainingNames.stepSize] = scalar(learningRate / (1 - adam.beta1 ** t));
    feeds[trainingNames.secondMomentScale] = scalar(1 / Math.sqrt(1 - adam.beta2 ** t));
    const outputs = await program.run(feeds);
    for (const name of stateNames) {
      const previous = state.get(name)!;
      state.set(name, outputs[trainingNames.next(name)]);
      if ('dispose' in previous) (previous as DeviceTensor).dispose();
    }
    const loss = Number((await outputs.loss.toHost()).data[0]);
    const gradientNorm = Number((await outputs.gradient_norm.toHost()).data[0]);
    losses.push(loss);
    if (!Number.isFinite(loss)) throw new ConfigError(`trainLanguageModel: the loss became ${loss} at step ${index}; lower the learning rate.`);
    if (options.log && (index % (options.logEvery ?? 50) === 0 || index === steps - 1)) {
      options.log({ step: index, loss, gradientNorm, learningRate, elapsedSeconds: (performance.now() - start) / 1000 });
    }
  }
  const parameters = new Map<string, FloatTensor>();
  for (const name of step.parameterNames) {
    const feed = state.get(name)!;
    const host = 'toHost' in feed ? await (feed as DeviceTensor).toHost() : (feed as HostTensor);
    parameters.set(name, { dtype: 'float32', shape: [...host.shape], data: Float32Array.from(host.data as Float32Array) });
  }
  await program.dispose();
  return { parameters, losses };
}
