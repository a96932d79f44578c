import { Graph, clippedAdamStep, div, grad, type AdamCorrections, type Tensor } from '@nnd/core';
import { buildTransformerGraph } from './transformer-graph.js';
import type { TransformerConfig } from './transformer-config.js';

export interface AdamSettings {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Global gradient-norm clip (PyTorch's clip_grad_norm_); Infinity disables it. */
  clipNorm: number;
}

export const DEFAULT_ADAM: AdamSettings = { beta1: 0.9, beta2: 0.99, epsilon: 1e-8, clipNorm: 1 };

/** Graph-input and output names of a training step, derived from parameter names. */
export const trainingNames = {
  firstMoment: (name: string) => `adam.m.${name}`,
  secondMoment: (name: string) => `adam.v.${name}`,
  next: (name: string) => `next.${name}`,
  /** lr / (1 - beta1^t): the bias-corrected step size, fed per step so the schedule needs no recompilation. */
  stepSize: 'adam.step_size',
  /** 1 / sqrt(1 - beta2^t): the second moment's bias correction. */
  secondMomentScale: 'adam.second_moment_scale',
};

export interface TrainingStep {
  graph: Graph;
  /** Parameter names in a fixed order. */
  parameterNames: string[];
  /** Program outputs: loss, gradient_norm, then next parameters and moments under trainingNames.next(...). */
  outputs: Record<string, Tensor>;
}

/**
 * One Adam step of next-token training as one graph: forward loss, reverse
 * -mode gradients of every parameter, then core's `clippedAdamStep`
 * (global-norm clipping and torch.optim.Adam's arithmetic, the optimizer of
 * @nnd/train's decomposition step too), so a step is a single program run whose outputs (new parameters
 * and moments) are fed to the next run without leaving the backend.
 */
export function buildTrainingStep(config: TransformerConfig, settings: AdamSettings = DEFAULT_ADAM): TrainingStep {
  const graph = new Graph();
  const tokens = graph.input('tokens', ['batch', 'seq'], 'int64');
  const forward = buildTransformerGraph(graph, tokens, config, { returnType: 'loss' });
  const loss = forward.loss!;
  const parameterNames = [...forward.parameters.keys()].sort();
  const parameters = parameterNames.map((name) => forward.parameters.get(name)!);
  const gradients = grad(loss, parameters);
  const stepSize = graph.input(trainingNames.stepSize, []);
  const secondMomentScale = graph.input(trainingNames.secondMomentScale, []);
  // Core's Adam divides by sqrt(v) + eps * sqrt(1 - beta2^t) and scales by lr * sqrt(1 - beta2^t) / (1 - beta1^t):
  // the fed scalars give both with one scalar division each, the learning rate still scheduled per step.
  const corrections: AdamCorrections = { stepSize: div(stepSize, secondMomentScale), epsilon: div(settings.epsilon, secondMomentScale) };
  // The same clipping and Adam as @nnd/train's decomposition step (core's clippedAdamStep).
  const { gradientNorm, next } = clippedAdamStep({
    params: Object.fromEntries(parameterNames.map((name, index) => [name, parameters[index]])),
    gradients: Object.fromEntries(parameterNames.map((name, index) => [name, gradients[index]])),
    maxGradNorm: settings.clipNorm,
    corrections,
    adam: settings,
    moments: (name, parameter) => ({
      firstMoment: graph.input(trainingNames.firstMoment(name), parameter.shape),
      secondMoment: graph.input(trainingNames.secondMoment(name), parameter.shape),
    }),
  });
  const outputs: Record<string, Tensor> = { loss, gradient_norm: gradientNorm };
  for (const name of parameterNames) {
    outputs[trainingNames.next(name)] = next[name].param;
    outputs[trainingNames.next(trainingNames.firstMoment(name))] = next[name].firstMoment;
    outputs[trainingNames.next(trainingNames.secondMoment(name))] = next[name].secondMoment;
  }
  return { graph, parameterNames, outputs };
}
