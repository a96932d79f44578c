import { cast, div, mul, pow, sqrt, sub, type AdamCorrections, type AdamHyperparameters, type Tensor } from '@nnd/core';

/** How the learning rate moves after the warm-up: held, or decayed linearly or along a half cosine to `finalFrac` of `lr`. */
export type LrScheduleKind = 'constant' | 'linear' | 'cosine';

export interface LrSchedule {
  readonly kind: LrScheduleKind;
  /** The fraction of the run's steps over which the rate rises linearly from 0 (floored to whole steps). */
  readonly warmupFrac: number;
  /** What fraction of `lr` the decay ends at (ignored by 'constant'). */
  readonly finalFrac: number;
}

/** The current behaviour: the configured rate at every step. */
export const CONSTANT_LR: LrSchedule = { kind: 'constant', warmupFrac: 0, finalFrac: 1 };

/** Whether a schedule leaves the rate at `lr` throughout, so that steps need no per-step scale. */
export function isConstantSchedule(schedule: LrSchedule): boolean {
  return schedule.kind === 'constant' && schedule.warmupFrac === 0;
}

/**
 * The factor on `lr` at 0-based step `step` of `totalSteps`, as goodfire-ai/spd's
 * `get_scheduled_value`: warm-up steps = floor(totalSteps * warmupFrac) rising
 * as step / warmup; then progress = (step - warmup) / (decay steps - 1) runs
 * from 0 to 1 at the last step, and the factor is 1 (constant),
 * f + (1 - f)(1 - progress) (linear) or f + (1 - f)(1 + cos(pi progress)) / 2
 * (cosine). With one decay step or none the factor stays 1.
 */
export function lrScale(step: number, totalSteps: number, schedule: LrSchedule): number {
  const warmupSteps = Math.floor(totalSteps * schedule.warmupFrac);
  if (step < warmupSteps) return step / warmupSteps;
  const decaySteps = totalSteps - warmupSteps;
  if (decaySteps <= 1 || schedule.kind === 'constant') return 1;
  const progress = (step - warmupSteps) / (decaySteps - 1);
  const final = schedule.finalFrac;
  return schedule.kind === 'linear' ? final + (1 - final) * (1 - progress) : final + (1 - final) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/**
 * adamCorrections with the learning rate multiplied by `scale`, a float64
 * scalar fed per step (the schedule's factor): the product is rounded to
 * float32 once, as torch's Python-float learning rate is.
 */
export function scaledAdamCorrections(step: Tensor, hyperparameters: AdamHyperparameters, scale: Tensor): AdamCorrections {
  const graph = step.graph;
  const firstCorrection = sub(graph.scalar(1, 'float64'), pow(graph.scalar(hyperparameters.beta1, 'float64'), step));
  const secondCorrection = sqrt(sub(graph.scalar(1, 'float64'), pow(graph.scalar(hyperparameters.beta2, 'float64'), step)));
  return {
    stepSize: cast(div(mul(secondCorrection, mul(scale, hyperparameters.lr)), firstCorrection), 'float32'),
    epsilon: cast(mul(secondCorrection, hyperparameters.epsilon), 'float32'),
  };
}
