import { ConfigError } from '@nnd/core';
import type { RankGroup } from './molt-config.js';

/**
 * Per-rank-group L0 from an evaluation's per-transform firing densities
 * (`evaluateDecomposition(...).feature_density_log10`: log10 of the fraction
 * of tokens each transform fired on, null for never): the group's L0 is the
 * sum of its transforms' densities, so the groups' L0s add up to `l0_norm`.
 * Keys are the training metrics' names, `l0_norm/rank_{r}`.
 */
export function rankGroupL0(molt: { readonly groups: readonly RankGroup[]; readonly transforms: number }, featureDensityLog10: readonly (number | null)[]): Record<string, number> {
  if (featureDensityLog10.length !== molt.transforms) {
    throw new ConfigError(`rankGroupL0: ${featureDensityLog10.length} feature densities for a MOLT of ${molt.transforms} transforms; pass the evaluation of this MOLT.`);
  }
  const result: Record<string, number> = {};
  for (const group of molt.groups) {
    let l0 = 0;
    for (let t = group.offset; t < group.offset + group.count; t++) {
      const density = featureDensityLog10[t];
      if (density !== null) l0 += 10 ** density;
    }
    result[`l0_norm/rank_${group.rank}`] = l0;
  }
  return result;
}
