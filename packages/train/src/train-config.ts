import { ConfigError, describeValue } from '@nnd/core';
import { z } from 'zod';
import type { LrSchedule } from './lr-schedule.js';

const positiveInteger = (allowed = 'a positive integer') => z.number({ error: allowed }).int({ error: allowed }).positive({ error: allowed });
const openUnitInterval = 'a number in [0, 1)';

/**
 * The trainer's configuration, with the seed's names and defaults (its
 * `get_default_cfg`). `num_tokens / batch_size` optimizer steps are taken,
 * rounded down as the seed does.
 */
export const trainConfigSchema = z
  .strictObject({
    num_tokens: positiveInteger().default(1_000_000_000),
    batch_size: positiveInteger().default(4096),
    lr: z.number({ error: 'a finite number > 0' }).positive({ error: 'a finite number > 0' }).finite({ error: 'a finite number > 0' }).default(3e-4),
    beta1: z.number({ error: openUnitInterval }).min(0, { error: openUnitInterval }).lt(1, { error: openUnitInterval }).default(0.9),
    beta2: z.number({ error: openUnitInterval }).min(0, { error: openUnitInterval }).lt(1, { error: openUnitInterval }).default(0.99),
    /** Gradients are scaled down when their global norm exceeds this (torch.nn.utils.clip_grad_norm_). */
    max_grad_norm: z.number({ error: 'a finite number > 0' }).positive({ error: 'a finite number > 0' }).default(100_000),
    /** How the learning rate moves over the run after its warm-up: held at `lr`, or decayed linearly or along a half cosine to `lr_final_frac` of it. */
    lr_schedule: z.enum(['constant', 'linear', 'cosine'], { error: "'constant', 'linear' or 'cosine'" }).default('constant'),
    /** The fraction of the run's steps over which the rate rises linearly from 0 to `lr` first. */
    lr_warmup_frac: z.number({ error: 'a number in [0, 1]' }).min(0, { error: 'a number in [0, 1]' }).max(1, { error: 'a number in [0, 1]' }).default(0),
    /** What fraction of `lr` a linear or cosine decay ends at on the last step. */
    lr_final_frac: z.number({ error: 'a number in [0, 1]' }).min(0, { error: 'a number in [0, 1]' }).max(1, { error: 'a number in [0, 1]' }).default(0),
    /** Metrics reach the logger every this many steps. */
    log_freq: positiveInteger().default(1),
    /** `onEvaluate` runs every this many steps. */
    perf_log_freq: positiveInteger().default(1000),
    /** A checkpoint is written every this many steps (and at the end). */
    checkpoint_freq: positiveInteger().default(10_000),
    /** Seeds the parameter initialisation. */
    seed: z.number({ error: 'a safe integer' }).int({ error: 'a safe integer' }).default(49),
  })
  .superRefine((config, context) => {
    if (config.num_tokens < config.batch_size) {
      context.addIssue({
        code: 'custom',
        path: ['num_tokens'],
        input: config.num_tokens,
        message: `at least batch_size (${config.batch_size}), so that at least one step runs`,
      });
    }
  });

export type TrainConfig = z.infer<typeof trainConfigSchema>;
export type TrainConfigInput = z.input<typeof trainConfigSchema>;

/** Parses a user config once at the package boundary; every problem is named in one ConfigError. */
export function parseTrainConfig(input: unknown): TrainConfig {
  const result = trainConfigSchema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return `unknown key(s) ${issue.keys.map((key) => `'${key}'`).join(', ')}; allowed keys: ${Object.keys(trainConfigSchema.shape).join(', ')}`;
    }
    const key = issue.path.join('.') || '(config)';
    return `'${key}' is ${describeValue(issue.input)}; allowed: ${issue.message}`;
  });
  throw new ConfigError(`Invalid train config: ${problems.join('; ')}.`);
}

/** Optimizer steps a config asks for. */
export function totalSteps(config: TrainConfig): number {
  return Math.floor(config.num_tokens / config.batch_size);
}

/** The learning-rate schedule a config asks for. */
export function lrScheduleOf(config: TrainConfig): LrSchedule {
  return { kind: config.lr_schedule, warmupFrac: config.lr_warmup_frac, finalFrac: config.lr_final_frac };
}
