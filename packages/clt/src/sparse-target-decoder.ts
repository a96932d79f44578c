import { add, customVjp, gather, matmul, mul, reduceSum, reshape, scatterND, ShapeError, squeeze, unsqueeze, zeros, type Tensor } from '@nnd/core';
import { scatterAddRows, type KeptActivations } from '@nnd/sae';

/**
 * What one source layer's kept activations write to each of its target
 * layers: `decoders` is W_dec_i, [F, targets, d_out], and the result is one
 * [batch, d_out] tensor per target (without b_dec).
 *
 * W_dec_i viewed as [F * targets, d_out] (a free reshape) has feature f's
 * vector to target t at row f * targets + t, so each target's kept rows are
 * gathered straight from the parameter: no per-target slice (whose gradient
 * would be a zero-padded [F, targets, d_out] per target) and no
 * [batch, k, targets * d_out] copy of all of them at once. The gradient is
 * hand-written as @nnd/sae's sparse decoder's is:
 *
 * - d values = sum over targets of <rows, dy_t>, with the rows gathered
 *   again rather than held from the forward pass;
 * - d W_dec_i: one zero [F * targets, d_out] tensor that each target's
 *   values * dy_t rows are ScatterND-added into in turn.
 */
export function sparseDecodeTargets(kept: KeptActivations, decoders: Tensor): Tensor[] {
  const [features, targets, width] = decoders.shape;
  if (decoders.rank !== 3 || typeof features !== 'number' || typeof targets !== 'number' || typeof width !== 'number') {
    throw new ShapeError(`sparseDecodeTargets: W_dec must be a static [F, targets, d_out] tensor, got ${decoders}.`);
  }
  const rowIndex = (t: number): Tensor => (targets === 1 ? kept.features : add(mul(kept.features, targets), t));
  const indices = Array.from({ length: targets }, (_, t) => rowIndex(t));
  const batch = kept.preactivations.shape[0];
  const decodeWith = (values: Tensor, rows: Tensor): Tensor =>
    kept.layout === 'per-sample' ? squeeze(matmul(unsqueeze(values, 1), rows), 1) : scatterAddRows(mul(unsqueeze(values, 1), rows), kept.samples, batch);
  return customVjp(
    [kept.values, decoders],
    (values, weights) => {
      const flat = reshape(weights, [features * targets, width]);
      return indices.map((index) => decodeWith(values, gather(flat, index, 0)));
    },
    (_graph, [values, weights], _outputs, cotangents) => {
      const flat = reshape(weights, [features * targets, width]);
      let dValues: Tensor | undefined;
      let dWeights: Tensor = zeros(values.graph, [features * targets, width], values.dtype);
      for (const [t, dy] of cotangents.entries()) {
        if (dy === undefined) continue;
        const rows = gather(flat, indices[t], 0);
        let dValuesHere: Tensor;
        let updates: Tensor;
        if (kept.layout === 'per-sample') {
          dValuesHere = squeeze(matmul(rows, unsqueeze(dy, 2)), 2);
          updates = mul(unsqueeze(values, 2), unsqueeze(dy, 1));
        } else {
          const dyRows = gather(dy, kept.samples, 0);
          dValuesHere = reduceSum(mul(dyRows, rows), -1);
          updates = mul(unsqueeze(values, 1), dyRows);
        }
        dValues = dValues === undefined ? dValuesHere : add(dValues, dValuesHere);
        dWeights = scatterND(dWeights, reshape(indices[t], [-1, 1]), reshape(updates, [-1, width]), 'add');
      }
      if (dValues === undefined) return [];
      return [dValues, reshape(dWeights, [features, targets, width])];
    },
  );
}
