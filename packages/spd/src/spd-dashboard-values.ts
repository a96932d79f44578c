import { concat, reshape, type DashboardValues, type Graph, type TensorMap } from '@nnd/core';
import { spdActivations, type SpdDecomposition } from './spd-decomposition.js';

/** What the dashboard calls a component's value. */
export const CAUSAL_IMPORTANCE_LABEL = 'causal importance';

/**
 * SPD's dashboard values: every component of every decomposed matrix is a
 * feature (`{module}:{c}`, modules in config order, so feature f of the
 * concatenation is component f - offset of its module), and its value at a
 * token is its causal importance there: the lower-leaky CI that masks use,
 * from the module's input in the clean model's forward pass, computed by the
 * same `spdActivations` that training and `evaluateSpd` use.
 */
export function spdDashboardValues(graph: Graph, spd: SpdDecomposition, inputs: TensorMap, params: TensorMap, frozen: TensorMap): DashboardValues {
  const { ci } = spdActivations(graph, spd, inputs, params, frozen);
  const columns = spd.modules.map(({ name, C }) => reshape(ci[name]!, [-1, C]));
  return {
    values: columns.length === 1 ? columns[0]! : concat(columns, 1),
    valueLabel: CAUSAL_IMPORTANCE_LABEL,
    featureNames: spd.modules.flatMap(({ name, C }) => Array.from({ length: C }, (_, component) => `${name}:${component}`)),
  };
}
