import {
  cast, customVjp, gather, greater, matmul, mul, neg, squeeze, transpose, unsqueeze, type Tensor,
} from '@nnd/core';
import type { KeptActivations } from './kept-activations.js';
import { scatterAddRows } from './sparse-decoder.js';

export interface EncoderOperands {
  /** The (normalised) input x, [batch, act_size]. */
  readonly input: Tensor;
  readonly bDec: Tensor;
  readonly wEnc: Tensor;
  /** x - b_dec, as the encoder computed it. */
  readonly centered: Tensor;
  /** The encoder bias, when the pre-activations add one (`encoder_bias`); its gradient is the per-feature sums of dv. */
  readonly bEnc?: Tensor;
}

/**
 * Makes the kept values carry a sparse encoder gradient. The kept values are
 * relu((x - b_dec) @ W_enc) at kept (sample, feature) pairs, so the gradient
 * of the pre-activations is non-zero only there, and
 *
 * - d W_enc[:, f] = sum over kept entries e of feature f of dv[e] * (x - b_dec)[sample(e)]:
 *   a ScatterND-add of (k * batch) rows into W_enc^T, i.e. k * batch * act_size
 *   multiply-adds instead of the dense batch * act_size * dict_size MatMul;
 * - d b_dec = -W_enc @ (per-feature sums of dv): act_size * dict_size work;
 * - d x (only computed if some graph output needs it) gathers W_enc columns.
 *
 * dv is masked by (value > 0): the ReLU's gradient, zero where a kept value is 0.
 *
 * Only worth it when nothing else needs a dense gradient of the
 * pre-activations: the auxiliary loss does (it reads every dead feature), and
 * then one dense MatMul serves both, so TopK SAEs use this rule only when
 * aux_penalty is 0. See README "Fast path".
 */
export function withSparseEncoderGradient(kept: KeptActivations, operands: EncoderOperands): KeptActivations {
  const { centered, bEnc } = operands;
  const dictSize = operands.wEnc.shape[1] as number;
  const [values] = customVjp(
    [operands.input, operands.bDec, operands.wEnc, ...(bEnc === undefined ? [] : [bEnc])],
    () => kept.values,
    (_graph, [, , weights], _outputs, [dValues]) => {
      if (dValues === undefined) return [];
      const active = mul(dValues, cast(greater(kept.values, 0), dValues.dtype));
      const featureTotals = scatterAddRows(unsqueeze(active, -1), kept.features, dictSize);
      const dBDec = neg(squeeze(matmul(weights, featureTotals), 1));
      const dBEnc = bEnc === undefined ? [] : [squeeze(featureTotals, 1)];
      const columns = gather(transpose(weights), kept.features, 0);
      if (kept.layout === 'per-sample') {
        const dWEncTransposed = scatterAddRows(mul(unsqueeze(active, 2), unsqueeze(centered, 1)), kept.features, dictSize);
        const dInput = squeeze(matmul(unsqueeze(active, 1), columns), 1);
        return [dInput, dBDec, transpose(dWEncTransposed), ...dBEnc];
      }
      const batch = centered.shape[0];
      const dWEncTransposed = scatterAddRows(mul(unsqueeze(active, 1), gather(centered, kept.samples, 0)), kept.features, dictSize);
      const dInput = scatterAddRows(mul(unsqueeze(active, 1), columns), kept.samples, batch);
      return [dInput, dBDec, transpose(dWEncTransposed), ...dBEnc];
    },
  );
  return { ...kept, values };
}
