import type { HostTensor } from '@nnd/core';
import type { Matrix } from './single-feature-ci.js';

/** A host matrix [rows, columns] as rows of numbers. */
export function matrixRows(tensor: HostTensor): Matrix {
  const [rows, columns] = tensor.shape;
  return Array.from({ length: rows }, (_, row) => Array.from(tensor.data.slice(row * columns, (row + 1) * columns), Number));
}

/** a [n, k] @ b [k, m]. */
export function matrixProduct(a: Matrix, b: Matrix): Matrix {
  const m = b[0]?.length ?? 0;
  return a.map((row) => {
    const out = new Array<number>(m).fill(0);
    row.forEach((value, k) => {
      if (value === 0) return;
      const other = b[k];
      for (let j = 0; j < m; j++) out[j] += value * other[j];
    });
    return out;
  });
}

const norm = (vector: readonly number[]) => Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0));
const dot = (a: readonly number[], b: readonly number[]) => a.reduce((sum, value, index) => sum + value * b[index], 0);

/** Per feature (row j of W [features, hidden], the paper's column j of W), the subcomponent that best matches it. */
export interface ColumnMatches {
  /** The subcomponent c whose row j, V[j, c] U[c, :], has the highest cosine similarity with W[j, :]. */
  readonly component: number[];
  readonly cosine: number[];
  /** ||V[j, c] U[c, :]|| / ||W[j, :]|| for that c. */
  readonly l2Ratio: number[];
  /** The paper's mean max cosine similarity (MMCS) and mean L2 ratio (ML2R), Table 1. */
  readonly mmcs: number;
  readonly ml2r: number;
}

/**
 * The paper's TMS geometry (section 4.1, Table 1; spd's TMSAnalyzer
 * `compute_cosine_similarities`): W [features, hidden] (x @ W) against the
 * rank-one subcomponents V[:, c] U[c, :] of V [features, C] and U [C, hidden].
 */
export function columnMatches(W: HostTensor, V: HostTensor, U: HostTensor): ColumnMatches {
  const w = matrixRows(W);
  const v = matrixRows(V);
  const u = matrixRows(U);
  const uNorms = u.map(norm);
  const component: number[] = [];
  const cosine: number[] = [];
  const l2Ratio: number[] = [];
  w.forEach((row, feature) => {
    const rowNorm = norm(row);
    let best = 0;
    let bestCosine = -Infinity;
    u.forEach((direction, c) => {
      const scale = v[feature][c];
      const denominator = Math.abs(scale) * uNorms[c] * rowNorm;
      const value = denominator === 0 ? 0 : (scale * dot(direction, row)) / denominator;
      if (value > bestCosine) {
        bestCosine = value;
        best = c;
      }
    });
    component.push(best);
    cosine.push(bestCosine);
    l2Ratio.push(rowNorm === 0 ? 0 : (Math.abs(v[feature][best]) * uNorms[best]) / rowNorm);
  });
  const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
  return { component, cosine, l2Ratio, mmcs: mean(cosine), ml2r: mean(l2Ratio) };
}

/** Per feature, what each MLP neuron contributes to reading it back out. */
export interface NeuronContributions {
  /** [features][d_mlp]: the target model's. */
  readonly model: Matrix;
  /** [features][d_mlp]: the chosen subcomponent of mlp_in's, through the sum of mlp_out's components. */
  readonly subcomponent: Matrix;
  /** The subcomponent of mlp_in chosen for each feature: the one with the largest contribution to some neuron. */
  readonly component: number[];
}

/**
 * The paper's neuron contributions for one residual MLP layer (section
 * 4.3, Figures 6 and 7; spd's `compute_patched_weight_neuron_contributions`
 * and `compute_spd_weight_neuron_contributions`): for feature i with
 * embedding e_i (the unembedding is the embedding's transpose), the model's
 * (e_i W_in) * (W_out e_i) per neuron, and the subcomponent's
 * (e_i V_in[:, c] U_in[c, :]) * (V_out U_out e_i) for the c that maximises it.
 */
export function neuronContributions(
  embedding: HostTensor,
  mlpIn: HostTensor,
  mlpOut: HostTensor,
  components: { readonly V_in: HostTensor; readonly U_in: HostTensor; readonly V_out: HostTensor; readonly U_out: HostTensor },
): NeuronContributions {
  const e = matrixRows(embedding);
  const readOut = (Wout: Matrix) => e.map((row) => Wout.map((neuron) => dot(neuron, row)));
  const inModel = matrixProduct(e, matrixRows(mlpIn));
  const outModel = readOut(matrixRows(mlpOut));
  const model = inModel.map((row, feature) => row.map((value, neuron) => value * outModel[feature][neuron]));
  const outSpd = readOut(matrixProduct(matrixRows(components.V_out), matrixRows(components.U_out)));
  const projections = matrixProduct(e, matrixRows(components.V_in));
  const u = matrixRows(components.U_in);
  const component: number[] = [];
  const subcomponent = projections.map((row, feature) => {
    let best = 0;
    let bestValue = -Infinity;
    row.forEach((scale, c) =>
      u[c].forEach((weight, neuron) => {
        const value = scale * weight * outSpd[feature][neuron];
        if (value > bestValue) {
          bestValue = value;
          best = c;
        }
      }),
    );
    component.push(best);
    return u[best].map((weight, neuron) => row[best] * weight * outSpd[feature][neuron]);
  });
  return { model, subcomponent, component };
}
