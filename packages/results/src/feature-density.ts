import { ResultsError } from './errors/index.js';
import { DENSE_DENSITY_THRESHOLD, FEATURE_DENSITY_KEY } from './metric-definitions.js';

/**
 * The feature-density histogram's data, as evaluation writes it into
 * summary.json under `feature_density_log10`:
 *
 *     "feature_density_log10": [-2.31, -0.87, null, -4.02, ...]
 *
 * one entry per feature (length `dict_size`, in feature order), each
 * `log10(firing count / evaluated tokens)`, where a feature fires on a token
 * when its activation there is > 0. A feature that never fired has density 0
 * and no logarithm; it is written as `null`, which is also what
 * `JSON.stringify` makes of `-Infinity`, so a writer may pass `Math.log10(0)`
 * through unchanged. `featureDensityLog10` computes the array from counts.
 */
export type FeatureDensityLog10 = (number | null)[];

/** The array to store under `feature_density_log10`, from per-feature firing counts over `tokenCount` evaluated tokens. */
export function featureDensityLog10(firingCounts: ArrayLike<number>, tokenCount: number): FeatureDensityLog10 {
  if (!Number.isSafeInteger(tokenCount) || tokenCount <= 0) {
    throw new ResultsError(`featureDensityLog10: tokenCount must be a positive integer, got ${String(tokenCount)}`);
  }
  return Array.from(firingCounts, (count, feature) => {
    if (!Number.isFinite(count) || count < 0 || count > tokenCount) {
      throw new ResultsError(`featureDensityLog10: feature ${feature} fired ${String(count)} times, outside 0..${tokenCount} (the evaluated tokens)`);
    }
    return count === 0 ? null : Math.log10(count / tokenCount);
  });
}

/** A run's densities split for plotting: the logarithms of features that fired, and how many never did. */
export interface FeatureDensitySummary {
  /** log10 densities of the features that fired, each ≤ 0. */
  firingLog10: number[];
  /** Features that never fired (`null` entries). */
  neverFired: number;
  /** Length of the array, the dictionary size. */
  featureCount: number;
}

/**
 * Reads `feature_density_log10` from a summary; undefined when the run has
 * none. `"-Infinity"` (as metrics.jsonl spells non-finite numbers) counts as
 * never fired, like `null`. Anything else that is not a number ≤ 0 throws: a
 * density above 1 means the writer divided by the wrong count.
 */
export function readFeatureDensity(summary: Record<string, unknown> | undefined, runName: string): FeatureDensitySummary | undefined {
  const value = summary?.[FEATURE_DENSITY_KEY];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) {
    throw new ResultsError(`run '${runName}': summary field '${FEATURE_DENSITY_KEY}' must be an array of log10 densities (one per feature, null for a feature that never fired), got ${typeof value}`);
  }
  const firingLog10: number[] = [];
  let neverFired = 0;
  value.forEach((entry: unknown, feature) => {
    if (entry === null || entry === '-Infinity') {
      neverFired += 1;
    } else if (typeof entry === 'number' && Number.isFinite(entry) && entry <= 0) {
      firingLog10.push(entry);
    } else {
      throw new ResultsError(`run '${runName}': ${FEATURE_DENSITY_KEY}[${feature}] is ${JSON.stringify(entry)}; entries are log10 of a firing fraction (a number ≤ 0) or null`);
    }
  });
  return { firingLog10, neverFired, featureCount: value.length };
}

/** `dead_fraction` and `dense_fraction` as the densities define them, for runs whose evaluation wrote the histogram but not the fractions. */
export function fractionsFromDensity(density: FeatureDensitySummary): { deadFraction: number; denseFraction: number } {
  if (density.featureCount === 0) return { deadFraction: 0, denseFraction: 0 };
  const denseCut = Math.log10(DENSE_DENSITY_THRESHOLD);
  const dense = density.firingLog10.filter((value) => value > denseCut).length;
  return { deadFraction: density.neverFired / density.featureCount, denseFraction: dense / density.featureCount };
}
