import { ConfigError, describeValue } from '@nnd/core';
import { z } from 'zod';

const positiveInteger = z.number({ error: 'an integer >= 1' }).int({ error: 'an integer >= 1' }).min(1, { error: 'an integer >= 1' });
const nonNegative = z.number({ error: 'a number >= 0' }).min(0, { error: 'a number >= 0' });
const fraction = z.number({ error: 'a number in [0, 1]' }).min(0, { error: 'a number in [0, 1]' }).max(1, { error: 'a number in [0, 1]' });

/**
 * One SPD run's decomposition settings, with goodfire-ai/spd's names where it
 * has them (`C`, `ci_fn_type`, `ci_fn_hidden_dims`, `use_delta_component`,
 * `n_mask_samples`, `pnorm`, `p_anneal_*`, `ci_alive_threshold`) and one
 * `*_coeff` per loss (0 leaves the loss out). Defaults: the toy models'
 * losses of the paper (stochastic reconstruction and its layerwise form at 1)
 * and spd's GPT-2 settings otherwise.
 */
export const spdConfigSchema = z.strictObject({
  /** The matrices to decompose, each with its number of components. */
  modules: z
    .array(
      z.strictObject({
        name: z.string({ error: 'a module name' }).min(1, { error: 'a module name' }),
        C: positiveInteger,
      }),
      { error: 'a list of { name, C }' },
    )
    .min(1, { error: 'at least one { name, C }' }),
  /**
   * Pairs [source, target] of modules whose components are tied as spd ties
   * the TMS's (run_spd's `tied_weights`): the target's V is the source's U
   * transposed and its U the source's V transposed, one trained tensor for
   * both (the CI functions stay separate). For models whose target matrix
   * is the source's transpose, like the TMS with tied weights.
   */
  tied_weights: z
    .array(z.tuple([z.string({ error: 'a module name' }), z.string({ error: 'a module name' })], { error: 'a pair [source, target]' }), { error: 'a list of [source, target] module pairs' })
    .default([]),
  ci_fn_type: z.enum(['mlp', 'vector_mlp', 'shared_mlp'], { error: "'mlp', 'vector_mlp' or 'shared_mlp'" }).default('mlp'),
  ci_fn_hidden_dims: z.array(positiveInteger).default([16]),
  /** W - VU as one more component with its own mask U(0, 1) per position. */
  use_delta_component: z.boolean({ error: 'true or false' }).default(true),
  /** `continuous`: m = g + (1 - g) r with r ~ U(0, 1); `binomial`: r in {0, 1}. */
  sampling: z.enum(['continuous', 'binomial'], { error: "'continuous' or 'binomial'" }).default('continuous'),
  n_mask_samples: positiveInteger.default(1),
  faithfulness_coeff: nonNegative.default(0),
  stochastic_recon_coeff: nonNegative.default(1),
  stochastic_recon_layerwise_coeff: nonNegative.default(1),
  /** Stochastic reconstruction with uniform_k_subset routing: each position routes a random k-subset of the modules to components. */
  stochastic_recon_subset_coeff: nonNegative.default(0),
  importance_minimality_coeff: nonNegative.default(1e-4),
  pnorm: z.number({ error: 'a number > 0' }).positive({ error: 'a number > 0' }).default(2),
  /** Linear annealing of p to this value between the start and end fractions of training; null: no annealing. */
  p_anneal_final_p: z.number({ error: 'a number > 0 or null' }).positive({ error: 'a number > 0 or null' }).nullable().default(null),
  p_anneal_start_frac: fraction.default(1),
  p_anneal_end_frac: fraction.default(1),
  /** spd's newer log2 term of the importance loss; 0 is the paper's loss. */
  importance_minimality_beta: nonNegative.default(0),
  importance_minimality_eps: nonNegative.default(1e-12),
  /** Reconstruction with adversarial masks found by sign-gradient ascent on their sources (PGDReconLoss). */
  pgd_recon_coeff: nonNegative.default(0),
  pgd_init: z.enum(['random', 'ones', 'zeros'], { error: "'random', 'ones' or 'zeros'" }).default('random'),
  pgd_step_size: z.number({ error: 'a number > 0' }).positive({ error: 'a number > 0' }).default(0.5),
  pgd_n_steps: z.number({ error: 'an integer >= 0' }).int({ error: 'an integer >= 0' }).min(0, { error: 'an integer >= 0' }).default(4),
  pgd_mask_scope: z.enum(['shared_across_batch', 'unique_per_datapoint'], { error: "'shared_across_batch' or 'unique_per_datapoint'" }).default('shared_across_batch'),
  /** PGD routes a random subset of modules per position (PGDReconSubsetLoss) instead of all. */
  pgd_routing: z.enum(['all', 'uniform_k_subset'], { error: "'all' or 'uniform_k_subset'" }).default('all'),
  /** Steps of AdamW on V and U alone minimising the faithfulness loss before training (spd's faithfulness warm-up); 0: none. */
  faithfulness_warmup_steps: z.number({ error: 'an integer >= 0' }).int({ error: 'an integer >= 0' }).min(0, { error: 'an integer >= 0' }).default(0),
  faithfulness_warmup_lr: z.number({ error: 'a number > 0' }).positive({ error: 'a number > 0' }).default(1e-3),
  faithfulness_warmup_weight_decay: nonNegative.default(0),
  /** A component counts in CI-L0 when its causal importance exceeds this. */
  ci_alive_threshold: nonNegative.default(0.1),
  /** Gradient clipping for V and U, and for the CI functions, each to its own global norm; null: the trainer's max_grad_norm. */
  grad_clip_norm_components: z.number({ error: 'a number > 0 or null' }).positive({ error: 'a number > 0 or null' }).nullable().default(null),
  grad_clip_norm_ci_fns: z.number({ error: 'a number > 0 or null' }).positive({ error: 'a number > 0 or null' }).nullable().default(null),
});

export type SpdConfig = z.infer<typeof spdConfigSchema>;
export type SpdConfigInput = z.input<typeof spdConfigSchema>;

/** Parses an SPD config once at the package boundary; every problem named in one ConfigError. */
export function parseSpdConfig(input: unknown): SpdConfig {
  const result = spdConfigSchema.safeParse(input, { reportInput: true });
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      if (issue.code === 'unrecognized_keys') return `unknown key(s) ${issue.keys.map((key) => `'${key}'`).join(', ')}; allowed keys: ${Object.keys(spdConfigSchema.shape).join(', ')}`;
      return `'${issue.path.join('.') || '(config)'}' is ${describeValue(issue.input)}; allowed: ${issue.message}`;
    });
    throw new ConfigError(`Invalid SPD config: ${problems.join('; ')}.`);
  }
  const config = result.data;
  const names = config.modules.map(({ name }) => name);
  const repeated = names.find((name, index) => names.indexOf(name) !== index);
  if (repeated !== undefined) throw new ConfigError(`Invalid SPD config: module '${repeated}' is listed twice in 'modules'; list each matrix once.`);
  const modules = new Map(config.modules.map(({ name, C }) => [name, C]));
  const targets = new Set<string>();
  for (const [source, target] of config.tied_weights) {
    const unknown = [source, target].find((name) => !modules.has(name));
    if (unknown !== undefined) throw new ConfigError(`Invalid SPD config: tied_weights names '${unknown}', which is not in 'modules' (${names.join(', ')}); tie only decomposed modules.`);
    if (source === target) throw new ConfigError(`Invalid SPD config: tied_weights ties '${source}' to itself; name two different modules.`);
    if (modules.get(source) !== modules.get(target))
      throw new ConfigError(`Invalid SPD config: tied_weights ties '${source}' (C ${modules.get(source)}) to '${target}' (C ${modules.get(target)}); tied modules need the same C.`);
    if (targets.has(target)) throw new ConfigError(`Invalid SPD config: tied_weights ties '${target}' to two sources; tie each target once.`);
    targets.add(target);
  }
  const chained = config.tied_weights.find(([source]) => targets.has(source));
  if (chained !== undefined) throw new ConfigError(`Invalid SPD config: tied_weights uses '${chained[0]}' as a source and as a target; tie each target to an untied source.`);
  if (config.p_anneal_end_frac < config.p_anneal_start_frac) {
    throw new ConfigError(`Invalid SPD config: p_anneal_end_frac (${config.p_anneal_end_frac}) is before p_anneal_start_frac (${config.p_anneal_start_frac}); the annealing must end after it starts.`);
  }
  return config;
}
