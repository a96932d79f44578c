/** Where a run was loaded from, so a report can say where each row comes from. */
export type RunOrigin = { type: 'directory'; directory: string } | { type: 'wandb'; baseUrl: string; entity: string; project: string; runId: string };

/** One logged step: the step number and the scalar metrics logged at it. */
export interface HistoryRow {
  step: number;
  metrics: Record<string, number>;
}

/**
 * One training run as this package sees it, whatever it was loaded from.
 * Config and summary keep the reference's key names (`sae_type`, `dict_size`,
 * `top_k`, `l0_norm`, `performance/ce_degradation`, ...), so the same code
 * tabulates a local run directory and a W&B run.
 */
export interface RunRecord {
  /** `config.name` when set (the reference's `{model_name}_{hook_point}_{dict_size}_{sae_type}_{top_k}_{lr}`), else the directory's or the W&B run's name. */
  name: string;
  origin: RunOrigin;
  config: Record<string, unknown>;
  /**
   * Final values: the run's summary (summary.json, or W&B's summaryMetrics).
   * A run that never finished has none; `runsTable` then falls back to the
   * last logged value of each metric.
   */
  summary: Record<string, unknown> | undefined;
  /** Logged steps in the order they were written; may be empty (a W&B load without history). */
  history: HistoryRow[];
}
