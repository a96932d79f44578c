import { customVjp, matmul, neg, reduceSum, sub, transpose, type Tensor } from '@nnd/core';

export interface CenteredEncoding {
  /** x - b_dec, [batch, act_size]. */
  readonly centered: Tensor;
  /** (x - b_dec) @ W_enc, [batch, dict_size], before any bias or activation. */
  readonly preactivations: Tensor;
}

/**
 * (x - b_dec) @ W_enc with a hand-written gradient. Generic autodiff would
 * form d(x - b_dec) = dpre @ W_enc^T, a [batch, dict] x [dict, act] product as
 * costly as the encoder itself, only to sum it over the batch for b_dec.
 * Summing dpre over the batch first gives the same b_dec gradient for
 * act x dict work: d b_dec = -W_enc @ sum_b dpre[b]. The gradient for x is
 * still returned; graphs that do not use it never compute it.
 */
export function centeredEncoder(x: Tensor, bDec: Tensor, wEnc: Tensor): CenteredEncoding {
  let centered: Tensor | undefined;
  const [preactivations] = customVjp(
    [x, bDec, wEnc],
    (input, bias, weights) => {
      centered = sub(input, bias);
      return matmul(centered, weights);
    },
    (_graph, [, , weights], _outputs, [dPre]) => {
      if (dPre === undefined) return [];
      const featureTotals = reduceSum(dPre, 0);
      return [matmul(dPre, transpose(weights)), neg(matmul(weights, featureTotals)), matmul(transpose(centered!), dPre)];
    },
  );
  return { centered: centered!, preactivations };
}
