import type { TrainConfigInput } from '@nnd/train';
import type { MemberConfig } from './run-config.js';

const TRAIN_KEYS = [
  'num_tokens',
  'batch_size',
  'lr',
  'beta1',
  'beta2',
  'max_grad_norm',
  'lr_schedule',
  'lr_warmup_frac',
  'lr_final_frac',
  'log_freq',
  'perf_log_freq',
  'checkpoint_freq',
  'seed',
] as const;

/** What the trainer gets for one decomposition of the run. */
export function trainConfigOf(member: MemberConfig): TrainConfigInput {
  return Object.fromEntries(TRAIN_KEYS.map((key) => [key, member[key]])) as TrainConfigInput;
}
