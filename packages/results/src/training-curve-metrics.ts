import type { HistoryRow } from './run-record.js';
import { DEFAULT_TRAINING_CURVE_METRICS } from './training-curves-plot.js';

/**
 * The metrics of the training curves for these runs when none are asked
 * for: `DEFAULT_TRAINING_CURVE_METRICS` (the reference's SAE curves, which
 * SAEs, transcoders, CLTs and MOLTs log), then, for each run that logged
 * none of them but `loss`, the losses it logged itself (names ending in
 * `_loss`, the trainer's convention for a decomposition's weighted losses:
 * SPD's faithfulness_loss, stochastic_recon_loss, ...), in the order first
 * logged. So a run's curves come from what it logged, whatever its family,
 * and a report of SAE runs shows what it always did.
 */
export function trainingCurveMetrics(runs: readonly { readonly history: readonly HistoryRow[] }[]): string[] {
  const defaults = new Set<string>(DEFAULT_TRAINING_CURVE_METRICS);
  const own = new Set<string>();
  for (const { history } of runs) {
    const logged = new Set<string>();
    for (const row of history) for (const name of Object.keys(row.metrics)) logged.add(name);
    if ([...logged].some((name) => defaults.has(name) && name !== 'loss')) continue;
    for (const name of logged) if (name.endsWith('_loss') && !defaults.has(name)) own.add(name);
  }
  return [...DEFAULT_TRAINING_CURVE_METRICS, ...own];
}
