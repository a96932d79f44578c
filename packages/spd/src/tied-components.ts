import type { HostTensor } from '@nnd/core';
import { componentNames, type SpdDecomposition } from './spd-decomposition.js';

/**
 * The parameters with each tied pair's shared tensors folded into the
 * source's V and U (source V + target U^T, source U + target V^T, see
 * `componentMatrices`) and the tied target's own V and U left out: what a
 * tied decomposition's components are, as spd's single shared tensor holds
 * them. Parameters of untied modules and the CI functions pass through.
 */
export function foldTiedComponents(spd: SpdDecomposition, params: Readonly<Record<string, HostTensor>>): Record<string, HostTensor> {
  const folded: Record<string, HostTensor> = { ...params };
  for (const [source, target] of spd.config.tied_weights) {
    const from = componentNames(source);
    const to = componentNames(target);
    const [targetV, targetU] = [params[to.V], params[to.U]];
    delete folded[to.V];
    delete folded[to.U];
    if (targetV === undefined || targetU === undefined) continue;
    folded[from.V] = addTransposed(params[from.V], targetU);
    folded[from.U] = addTransposed(params[from.U], targetV);
  }
  return folded;
}

/** a [r, c] + b^T, b [c, r]. */
function addTransposed(a: HostTensor, b: HostTensor): HostTensor {
  const [rows, columns] = a.shape;
  const data = new Float32Array(rows * columns);
  for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) data[r * columns + c] = Number(a.data[r * columns + c]) + Number(b.data[c * rows + r]);
  return { dtype: 'float32', shape: [rows, columns], data };
}
