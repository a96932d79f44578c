import { ResultsError } from './errors/index.js';

/**
 * The evaluation of a decomposition of the model's weights into components
 * (SPD), as its run's summary holds it: `kl_{mask}`, `ce_diff_{mask}` and
 * `ce_unrecovered_{mask}` per mask kind; `ci_l0_{t}.{module}` and
 * `alive_{t}.{module}` per threshold and module; and per module the arrays
 * `ci_histogram.{module}` (counts in equal bins over [0, 1]) and
 * `component_density.{module}` (per component, the fraction of evaluated
 * positions where it is active), with `component_density_threshold`.
 */
export interface ComponentMetrics {
  readonly masks: readonly { readonly mask: string; readonly kl: number; readonly ceDiff: number | undefined; readonly ceUnrecovered: number | undefined }[];
  /** Thresholds of CI-L0 and alive counts, ascending. */
  readonly thresholds: readonly number[];
  readonly modules: readonly ComponentModuleMetrics[];
  readonly densityThreshold: number | undefined;
}

export interface ComponentModuleMetrics {
  readonly module: string;
  /** Mean components with CI above each threshold per position, by threshold (as `thresholds`). */
  readonly ciL0: ReadonlyMap<number, number>;
  /** Components whose CI exceeds each threshold somewhere in the evaluation. */
  readonly alive: ReadonlyMap<number, number>;
  readonly ciHistogram: readonly number[] | undefined;
  readonly componentDensity: readonly number[] | undefined;
}

const MASK_KEY = /^kl_(.+)$/;
// The threshold is a number with its own dots ('0.01'); module names start with a letter.
const THRESHOLD_KEY = /^(ci_l0|alive)_(\d+(?:\.\d+)?(?:e-?\d+)?)\.([A-Za-z_].*)$/;
const ARRAY_KEY = /^(ci_histogram|component_density)\.(.+)$/;

/** The component metrics of a run's summary; undefined when it has none (a run of an activation decomposition). */
export function readComponentMetrics(summary: Record<string, unknown> | undefined, runName: string): ComponentMetrics | undefined {
  if (summary === undefined) return undefined;
  const number = (key: string): number | undefined => (typeof summary[key] === 'number' ? (summary[key] as number) : undefined);
  const masks: { mask: string; kl: number; ceDiff: number | undefined; ceUnrecovered: number | undefined }[] = [];
  const modules = new Map<string, { ciL0: Map<number, number>; alive: Map<number, number>; ciHistogram?: number[]; componentDensity?: number[] }>();
  const moduleNamed = (name: string) => {
    let entry = modules.get(name);
    if (entry === undefined) modules.set(name, (entry = { ciL0: new Map(), alive: new Map() }));
    return entry;
  };
  const thresholds = new Set<number>();
  for (const [key, value] of Object.entries(summary)) {
    const mask = MASK_KEY.exec(key);
    if (mask !== null && typeof value === 'number') {
      masks.push({ mask: mask[1]!, kl: value, ceDiff: number(`ce_diff_${mask[1]}`), ceUnrecovered: number(`ce_unrecovered_${mask[1]}`) });
      continue;
    }
    const threshold = THRESHOLD_KEY.exec(key);
    if (threshold !== null && typeof value === 'number') {
      const t = Number(threshold[2]);
      thresholds.add(t);
      moduleNamed(threshold[3]!)[threshold[1] === 'ci_l0' ? 'ciL0' : 'alive'].set(t, value);
      continue;
    }
    const array = ARRAY_KEY.exec(key);
    if (array !== null) {
      if (!Array.isArray(value) || !value.every((entry) => typeof entry === 'number' && Number.isFinite(entry) && entry >= 0)) {
        throw new ResultsError(
          `run '${runName}': summary field '${key}' must be an array of non-negative numbers (${array[1] === 'ci_histogram' ? 'counts per bin' : 'one fraction per component'}), got ${JSON.stringify(value)?.slice(0, 80)}`,
        );
      }
      moduleNamed(array[2]!)[array[1] === 'ci_histogram' ? 'ciHistogram' : 'componentDensity'] = value as number[];
    }
  }
  if (masks.length === 0 && modules.size === 0) return undefined;
  return {
    masks,
    thresholds: [...thresholds].sort((a, b) => a - b),
    modules: [...modules.entries()].map(([module, entry]) => ({ module, ciL0: entry.ciL0, alive: entry.alive, ciHistogram: entry.ciHistogram, componentDensity: entry.componentDensity })),
    densityThreshold: number('component_density_threshold'),
  };
}
