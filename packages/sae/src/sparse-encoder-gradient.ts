import { cast, customVjp, gather, greater, matmul, mul, neg, squeeze, transpose, unsqueeze, type Tensor } from '@nnd/core';
import type { KeptActivations } from './kept-activations.js';
import { scatterAddRows } from './sparse-decoder.js';

export interface EncoderOperands {
  /** The (normalised) input x, [batch, act_size]. */
  readonly input: Tensor;
  /** The bias subtracted before the encoder; absent when the encoder reads x itself (transcoders). */
  readonly bDec?: Tensor;
  readonly wEnc: Tensor;
  /** x - b_dec (or x without bDec), as the encoder computed it. */
  readonly centered: Tensor;
  /** The encoder bias added after W_enc, when the encoder has one in the kept values (transcoders' TopK). */
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
  const { centered, bDec, bEnc } = operands;
  const dictSize = operands.wEnc.shape[1] as number;
  // Operands in a fixed order: [input, b_dec?, W_enc, b_enc?]; the SAEs' graph is [input, b_dec, W_enc] as before.
  const inputs = [operands.input, ...(bDec ? [bDec] : []), operands.wEnc, ...(bEnc ? [bEnc] : [])];
  const [values] = customVjp(
    inputs,
    () => kept.values,
    (_graph, operandValues, _outputs, [dValues]) => {
      if (dValues === undefined) return [];
      const weights = operandValues[bDec ? 2 : 1];
      const active = mul(dValues, cast(greater(kept.values, 0), dValues.dtype));
      const featureTotals = scatterAddRows(unsqueeze(active, -1), kept.features, dictSize);
      const biases = (dInput: Tensor, dWEnc: Tensor): (Tensor | undefined)[] => [
        dInput,
        ...(bDec ? [neg(squeeze(matmul(weights, featureTotals), 1))] : []),
        dWEnc,
        ...(bEnc ? [squeeze(featureTotals, 1)] : []),
      ];
      const columns = gather(transpose(weights), kept.features, 0);
      if (kept.layout === 'per-sample') {
        const dWEncTransposed = scatterAddRows(mul(unsqueeze(active, 2), unsqueeze(centered, 1)), kept.features, dictSize);
        const dInput = squeeze(matmul(unsqueeze(active, 1), columns), 1);
        return biases(dInput, transpose(dWEncTransposed));
      }
      const batch = centered.shape[0];
      const dWEncTransposed = scatterAddRows(mul(unsqueeze(active, 1), gather(centered, kept.samples, 0)), kept.features, dictSize);
      const dInput = scatterAddRows(mul(unsqueeze(active, 1), columns), kept.samples, batch);
      return biases(dInput, transpose(dWEncTransposed));
    },
  );
  return { ...kept, values };
}
