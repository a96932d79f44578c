import { modulesOf, paretoAxes, pointLabel, type ComparisonData, type ComparisonPointData } from './comparison-data.js';

/** One row of the model table: the reference's exp_012 columns. */
export interface ModelComparisonRow {
  readonly method: string;
  readonly label: string;
  readonly ce: number;
  readonly ce_degradation: number;
  readonly mse: number;
  /** Mean over modules of the module's L0. */
  readonly mean_l0: number;
  readonly total_params?: number;
  readonly training_tokens?: number;
  /** Per module l (a layer, a weight matrix), in the method's order. */
  readonly modules: readonly {
    readonly label: string;
    readonly dict_size: number;
    readonly alive: number;
    /** 1 − alive / dict_size, as a fraction. */
    readonly dead_pct: number;
    readonly l0: number;
    readonly mean_act?: number;
  }[];
}

/** The model table: every point of the native sweep (trained checkpoints at their own sparsity; the neuron baseline at its k). */
export function modelComparisonRows(comparison: ComparisonData): ModelComparisonRow[] {
  return comparison.points.filter((point) => point.sweep === 'native').map((point) => modelComparisonRow(point));
}

function modelComparisonRow(point: ComparisonPointData): ModelComparisonRow {
  return {
    method: point.family,
    label: pointLabel(point),
    ce: point.ce,
    ce_degradation: point.ceDegradation,
    mse: point.mse,
    mean_l0: paretoAxes(point).perComponent,
    ...(point.totalParams === undefined ? {} : { total_params: point.totalParams }),
    ...(point.trainingTokens === undefined ? {} : { training_tokens: point.trainingTokens }),
    modules: modulesOf(point.groups).map((module) => ({
      label: module.label,
      dict_size: module.size,
      alive: module.alive,
      dead_pct: module.size === 0 ? 0 : 1 - module.alive / module.size,
      l0: module.l0,
      ...(module.meanActivation === undefined ? {} : { mean_act: module.meanActivation }),
    })),
  };
}

const MODULE_COLUMNS = ['dict_size', 'alive', 'dead_pct', 'l0', 'mean_act'] as const;

function csvField(value: string | number | undefined): string {
  if (value === undefined) return '';
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * `model_comparison.csv`: method, label, ce, ce_degradation, mse, mean_l0,
 * total_params, training_tokens, then L{l}_{dict_size, alive, dead_pct, l0,
 * mean_act} for l = 0 up to the most modules a row has (the reference's
 * columns; l counts a method's modules in order, its layers for per-layer
 * decompositions). Missing values are empty.
 */
export function modelComparisonCsv(rows: readonly ModelComparisonRow[]): string {
  const moduleCount = Math.max(0, ...rows.map((row) => row.modules.length));
  const header = ['method', 'label', 'ce', 'ce_degradation', 'mse', 'mean_l0', 'total_params', 'training_tokens'];
  for (let l = 0; l < moduleCount; l++) header.push(...MODULE_COLUMNS.map((column) => `L${l}_${column}`));
  const lines = rows.map((row) => {
    const fields: (string | number | undefined)[] = [row.method, row.label, row.ce, row.ce_degradation, row.mse, row.mean_l0, row.total_params, row.training_tokens];
    for (let l = 0; l < moduleCount; l++) {
      const module = row.modules[l];
      fields.push(...MODULE_COLUMNS.map((column) => module?.[column]));
    }
    return fields.map(csvField).join(',');
  });
  return `${[header.join(','), ...lines].join('\n')}\n`;
}
