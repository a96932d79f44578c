import { LoggingError } from './errors/index.js';
import type { Metrics } from './logger.js';

/**
 * The metric names the reference logs, kept verbatim so that runs compare
 * with the reference's W&B dashboards. `performance/*` come from evaluation
 * with the SAE spliced into the model.
 */
export const METRIC_NAMES = [
  'loss',
  'l2_loss',
  'l1_loss',
  'l0_norm',
  'l1_norm',
  'aux_loss',
  'num_dead_features',
  'n_dead_in_batch',
  'performance/ce_degradation',
  'performance/recovery_from_zero',
  'performance/recovery_from_mean',
] as const;

export type MetricName = (typeof METRIC_NAMES)[number];

/** The metrics the progress bar shows, with the reference's labels (`Loss: {loss:.4f}, L0: {l0_norm:.4f}, ...`). */
export const PROGRESS_METRICS: readonly { name: MetricName; label: string }[] = [
  { name: 'loss', label: 'Loss' },
  { name: 'l0_norm', label: 'L0' },
  { name: 'l2_loss', label: 'L2' },
  { name: 'l1_loss', label: 'L1' },
  { name: 'l1_norm', label: 'L1_norm' },
];

/** Group training: every name of SAE number `index` gets the suffix `_{index}` (`loss` becomes `loss_3`), as the reference does. */
export function suffixMetrics(metrics: Metrics, index: number): Metrics {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new LoggingError(`suffixMetrics: index must be a non-negative integer, got ${String(index)}`);
  }
  const suffixed: Metrics = {};
  for (const [name, value] of Object.entries(metrics)) suffixed[`${name}_${index}`] = value;
  return suffixed;
}
