import { cast, customVjp, gather, greater, mul, reshape, transpose, unsqueeze, type Tensor } from '@nnd/core';
import { scatterAddRows, type KeptActivations } from '@nnd/sae';

/**
 * Makes a CLT layer's kept values (relu(x W_enc + b_enc) at the kept
 * entries) carry a sparse gradient for W_enc and b_enc: the pre-activation
 * gradient is non-zero only at kept entries, so
 *
 * - d b_enc[f] = sum of dv over the kept entries of feature f;
 * - d W_enc[:, f] = sum over those entries of dv * x[sample]: a ScatterND-add
 *   of k * batch rows into W_enc^T instead of the dense [d_in, batch] x
 *   [batch, F] MatMul.
 *
 * dv is masked by (value > 0), the ReLU's gradient. The inputs get no
 * gradient (they are data). Used only when no auxiliary loss needs the
 * dense pre-activation gradient, as @nnd/sae does for its centred encoder.
 */
export function withSparseCltEncoderGradient(kept: KeptActivations, x: Tensor, wEnc: Tensor, bEnc: Tensor): KeptActivations {
  const features = wEnc.shape[1] as number;
  const [values] = customVjp(
    [wEnc, bEnc],
    () => kept.values,
    (_graph, _primals, _outputs, [dValues]) => {
      if (dValues === undefined) return [];
      const active = mul(dValues, cast(greater(kept.values, 0), dValues.dtype));
      const dBEnc = reshape(scatterAddRows(unsqueeze(active, -1), kept.features, features), [features]);
      const rows = kept.layout === 'per-sample' ? mul(unsqueeze(active, 2), unsqueeze(x, 1)) : mul(unsqueeze(active, 1), gather(x, kept.samples, 0));
      return [transpose(scatterAddRows(rows, kept.features, features)), dBEnc];
    },
  );
  return { ...kept, values };
}
