import { evaluateGraph, Graph, hostTensor, type HostTensor } from '@nnd/core';
import { spdActivations, type SpdDecomposition } from './spd-decomposition.js';

/** A matrix as rows of numbers: [features][components] for causal importances. */
export type Matrix = number[][];

/**
 * spd's single-feature causal importances (`get_single_feature_causal_importances`):
 * the lower-leaky CI [features, C] of every module when the input is one
 * feature at `magnitude` (0.75 in spd and the paper) and the rest 0. Computed
 * by @nnd/core's reference interpreter: a toy's one-hot batch is small.
 */
export function singleFeatureCausalImportances(spd: SpdDecomposition, params: Readonly<Record<string, HostTensor>>, magnitude = 0.75): Record<string, Matrix> {
  const [port] = spd.target.inputs;
  const features = port.width;
  const graph = new Graph();
  const oneHot = new Float32Array(features * features);
  for (let i = 0; i < features; i++) oneHot[i * features + i] = magnitude;
  const inputs = { [port.hook]: graph.constant(hostTensor('float32', [features, features], oneHot)) };
  const frozen = Object.fromEntries(Object.entries(spd.target.weights()).map(([name, tensor]) => [name, graph.constant(tensor)]));
  const tensors = Object.fromEntries(Object.entries(params).map(([name, tensor]) => [name, graph.constant(tensor)]));
  const { ci } = spdActivations(graph, spd, inputs, tensors, frozen);
  const values = evaluateGraph(
    graph,
    spd.modules.map(({ name }) => ci[name]),
    {},
  );
  return Object.fromEntries(
    spd.modules.map(({ name, C }, index) => [name, Array.from({ length: features }, (_, feature) => Array.from(values[index].data.slice(feature * C, (feature + 1) * C), Number))]),
  );
}

/**
 * The column order spd's plots use for modules with one component per
 * feature (the paper's captions: "iteratively choosing the subcomponent,
 * without replacement, with the highest causal importance for each input
 * feature"), then the unchosen columns in index order. spd switches from
 * this greedy order to the Hungarian assignment below 500 rows; the two
 * agree whenever each feature has a distinct top component.
 */
export function identityOrder(rows: Matrix): number[] {
  const columns = rows[0]?.length ?? 0;
  const used = new Set<number>();
  const order: number[] = [];
  for (const row of rows.slice(0, columns)) {
    let best = -1;
    for (let column = 0; column < columns; column++) if (!used.has(column) && (best < 0 || row[column] > row[best])) best = column;
    order.push(best);
    used.add(best);
  }
  for (let column = 0; column < columns; column++) if (!used.has(column)) order.push(column);
  return order;
}

/** spd's `permute_to_dense`: columns by total CI over the features, largest first (ties by index). */
export function denseOrder(rows: Matrix): number[] {
  const columns = rows[0]?.length ?? 0;
  const sums = Array.from({ length: columns }, (_, column) => rows.reduce((sum, row) => sum + row[column], 0));
  return sums.map((_, column) => column).sort((a, b) => sums[b] - sums[a] || a - b);
}

/** The matrix with its columns in `order`. */
export const permuteColumns = (rows: Matrix, order: readonly number[]): Matrix => rows.map((row) => order.map((column) => row[column]));

/**
 * spd's IdentityCIError (`IdentityCIPattern.distance_from`) on the
 * identity-ordered matrix: entries off the diagonal above `tolerance` plus
 * diagonal entries below 1 - tolerance. 0 is the paper's answer: one
 * component per feature at full importance, nothing else.
 */
export function identityCiError(rows: Matrix, tolerance = 0.1): number {
  const ordered = permuteColumns(rows, identityOrder(rows));
  let errors = 0;
  ordered.forEach((row, feature) =>
    row.forEach((value, column) => {
      if (column === feature) errors += value < 1 - tolerance ? 1 : 0;
      else errors += value > tolerance ? 1 : 0;
    }),
  );
  return errors;
}

/**
 * How many features are captured by exactly one component: one component
 * has CI above `threshold` for the feature, and that component is above it
 * for no other feature.
 */
export function featuresWithOwnComponent(rows: Matrix, threshold = 0.5): number {
  const above = rows.map((row) => row.flatMap((value, column) => (value > threshold ? [column] : [])));
  const users = new Map<number, number>();
  for (const columns of above) for (const column of columns) users.set(column, (users.get(column) ?? 0) + 1);
  return above.filter((columns) => columns.length === 1 && users.get(columns[0]) === 1).length;
}

/** How many features some component has CI above `threshold` for (captured at all, by one component or several). */
export const featuresCaptured = (rows: Matrix, threshold = 0.5): number => rows.filter((row) => row.some((value) => value > threshold)).length;

/** Components whose CI exceeds `threshold` for at least one feature. */
export function componentsAbove(rows: Matrix, threshold: number): number {
  const columns = rows[0]?.length ?? 0;
  let count = 0;
  for (let column = 0; column < columns; column++) if (rows.some((row) => row[column] > threshold)) count++;
  return count;
}
