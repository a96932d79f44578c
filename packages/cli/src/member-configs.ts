import type { TrainConfigInput } from '@nnd/train';
import type { MemberConfig } from './run-config.js';

/** The keys of a run config that each SAE type reads (its zod schema in @nnd/sae is strict). */
const SAE_KEYS = {
  vanilla: [],
  topk: ['top_k', 'top_k_aux', 'aux_penalty'],
  batchtopk: ['top_k', 'top_k_aux', 'aux_penalty'],
  jumprelu: ['bandwidth'],
} as const;
const SHARED_SAE_KEYS = ['hook_point', 'act_size', 'dict_size', 'seed', 'batch_size', 'lr', 'beta1', 'beta2', 'max_grad_norm', 'l1_coeff', 'n_batches_to_dead', 'input_unit_norm'] as const;
const TRAIN_KEYS = ['num_tokens', 'batch_size', 'lr', 'beta1', 'beta2', 'max_grad_norm', 'log_freq', 'perf_log_freq', 'checkpoint_freq', 'seed'] as const;

/** What `createSae` gets for one SAE of the run: its architecture and the keys that type reads. */
export function saeConfigOf(member: MemberConfig): Record<string, unknown> {
  const keys = [...SHARED_SAE_KEYS, ...SAE_KEYS[member.sae_type]];
  return { architecture: member.sae_type, ...Object.fromEntries(keys.map((key) => [key, member[key]])) };
}

/** What the trainer gets for one SAE of the run. */
export function trainConfigOf(member: MemberConfig): TrainConfigInput {
  return Object.fromEntries(TRAIN_KEYS.map((key) => [key, member[key]])) as TrainConfigInput;
}
