import { z } from 'zod';

/**
 * The config keys that every dictionary-encoder decomposition shares (the
 * reference's EncoderConfig in nn_decompositions, DECOMPOSITIONS.md §0):
 * SAEs, transcoders and cross-layer transcoders read them with the same
 * meaning and the same defaults. One definition here, spread into each
 * package's own schemas, so a default or a bound changes in one place.
 */

/** What each shared key accepts, in words, for error messages. */
export const ENCODER_ALLOWED: Readonly<Record<string, string>> = {
  dict_size: 'an integer >= 1 (the number of dictionary features)',
  seed: 'a safe integer',
  batch_size: 'an integer >= 1',
  lr: 'a number > 0',
  beta1: 'a number in [0, 1)',
  beta2: 'a number in [0, 1)',
  max_grad_norm: 'a number > 0',
  l1_coeff: 'a number >= 0',
  n_batches_to_dead: 'an integer >= 0',
  input_unit_norm: 'true or false',
  top_k: 'an integer >= 1 and <= dict_size',
  top_k_aux: 'an integer >= 1',
  aux_penalty: 'a number >= 0',
  sparse_decoder: 'true or false',
  bandwidth: 'a number > 0',
};

/** Training and dead-feature keys, in the order the packages' configs list them, with the reference's defaults. */
export const encoderTrainingShape = {
  seed: z.number().int().default(49),
  batch_size: z.number().int().min(1).default(4096),
  lr: z.number().positive().default(3e-4),
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.99),
  max_grad_norm: z.number().positive().default(100000),
  l1_coeff: z.number().min(0).default(0),
  n_batches_to_dead: z.number().int().min(0).default(5),
  input_unit_norm: z.boolean().default(false),
};

/** TopK and BatchTopK's keys. */
export const topKEncoderShape = {
  top_k: z.number().int().min(1).default(32),
  top_k_aux: z.number().int().min(1).default(512),
  aux_penalty: z
    .number()
    .min(0)
    .default(1 / 32),
  /** Decode from the k kept features only, with hand-written sparse gradients. */
  sparse_decoder: z.boolean().default(true),
};

/** JumpReLU's key: the width of the straight-through threshold gradient. */
export const jumpReluEncoderShape = {
  bandwidth: z.number().positive().default(0.001),
};

/** top_k may not exceed dict_size: one cross-field rule for every encoder's schema. */
export function checkTopKWithinDictSize(config: { readonly dict_size: number; readonly top_k?: number }, context: z.RefinementCtx): void {
  if (config.top_k !== undefined && config.top_k > config.dict_size) {
    context.addIssue({
      code: 'custom',
      path: ['top_k'],
      message: `top_k = ${config.top_k} exceeds dict_size = ${config.dict_size}; top_k must be <= dict_size (lower top_k or raise dict_size)`,
    });
  }
}

const integer = (minimum: number, what = '') => {
  const allowed = `an integer >= ${minimum}${what}`;
  return z.number({ error: allowed }).int({ error: allowed }).min(minimum, { error: allowed });
};
const nonNegative = () => z.number({ error: 'a number >= 0' }).min(0, { error: 'a number >= 0' }).finite({ error: 'a number >= 0' });
const positive = () => z.number({ error: 'a number > 0' }).positive({ error: 'a number > 0' }).finite({ error: 'a number > 0' });

/**
 * The same keys as a run config of `nnd train` gives them (one flat config
 * for the whole run): the families of SAEs, transcoders and CLTs spread this
 * into their `configShape`, each key with its default and its help line, and
 * copy each key into their members' configs, where the schemas above check
 * it again. The trainer's keys (seed, batch_size, lr, ...) are the driver's.
 */
export const encoderRunConfigShape = {
  dict_size: integer(1).default(12288).describe('number of features (per layer for a CLT)'),
  l1_coeff: nonNegative().default(0).describe('weight of the L1 (JumpReLU: L0) sparsity loss'),
  input_unit_norm: z
    .boolean({ error: 'true or false' })
    .default(false)
    .describe("normalise each activation to mean 0, std 1 before the encoder (SAELens layer_norm); off as in nn_decompositions' EncoderConfig"),
  n_batches_to_dead: integer(0).default(5).describe('a feature inactive for this many batches counts as dead'),
  top_k: integer(1, ' and <= dict_size').default(32).describe('features kept per sample (topk; batchtopk: on average over the batch)'),
  top_k_aux: integer(1).default(512).describe('dead features the auxiliary loss uses (topk, batchtopk)'),
  aux_penalty: nonNegative()
    .default(1 / 32)
    .describe('weight of the auxiliary loss that revives dead features (topk, batchtopk)'),
  bandwidth: positive().default(0.001).describe("width of JumpReLU's straight-through threshold gradient"),
};
