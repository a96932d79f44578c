import { concat, div, GraphError, matmul, reshape, slice, sqrt, transpose, unsqueeze, reduceSumSquare, type Tensor, type TensorMap } from '@nnd/core';
import type { RankGroup } from './molt-config.js';

/**
 * One direction per transform for feature dashboards (`decoderDirections`):
 * what transform t writes when its input is its own gate direction,
 * (e_t / ||e_t||) V_t U_t, e_t = W_E[:, t]. A transform has no single
 * decoder row (it writes x V_t U_t, which depends on x), but the inputs that
 * open its gate are those along e_t, so this is its output on the input it
 * responds to most per unit of norm: the logit lens of "what this transform
 * does when it fires". It is [transforms, d_out], in featureActs' order, and
 * costs one [1, d_in] x [d_in, r] x [r, d_out] product per transform.
 * (The top singular direction of V_t U_t would not depend on the gate, but
 * its sign is arbitrary, so its raised and lowered tokens could swap.)
 */
export function moltDecoderDirections(groups: readonly RankGroup[], params: TensorMap, names: { u: (rank: number) => string; v: (rank: number) => string }): Tensor {
  const parameter = (name: string): Tensor => {
    const tensor = params[name];
    if (tensor === undefined) throw new GraphError(`molt decoderDirections: no parameter '${name}' (got {${Object.keys(params).join(', ')}}).`);
    return tensor;
  };
  const encoder = parameter('W_E');
  const perGroup = groups.map(({ rank, count, offset }) => {
    const rows = transpose(slice(encoder, { starts: [offset], ends: [offset + count], axes: [1] }));
    const unit = div(rows, sqrt(reduceSumSquare(rows, [1], true)));
    const projected = matmul(unsqueeze(unit, 1), parameter(names.v(rank)));
    return reshape(matmul(projected, parameter(names.u(rank))), [count, -1]);
  });
  return perGroup.length === 1 ? perGroup[0] : concat(perGroup, 0);
}
