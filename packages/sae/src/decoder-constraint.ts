import { div, GraphError, mul, reduceSum, reduceSumSquare, sqrt, sub, type Graph, type Tensor, type TensorMap } from '@nnd/core';

/**
 * The reference's `make_decoder_weights_and_grad_unit_norm`, applied between
 * gradient clipping and the optimizer step: W_dec's rows are kept at unit
 * norm, so the part of each row's gradient along that row (which would only
 * change its norm) is removed, and the rows are renormalised.
 */
export function constrainDecoder(_graph: Graph, params: TensorMap, gradients: TensorMap): { params: TensorMap; gradients: TensorMap } {
  const weights = params.W_dec;
  const gradient = gradients.W_dec;
  if (weights === undefined || gradient === undefined) {
    throw new GraphError(`constrain: needs W_dec in params and gradients; got params {${Object.keys(params).join(', ')}} and gradients {${Object.keys(gradients).join(', ')}}.`);
  }
  const constrained = unitNormRows(weights, gradient);
  return {
    params: { ...params, W_dec: constrained.weights },
    gradients: { ...gradients, W_dec: constrained.gradient },
  };
}

/**
 * The rule itself, for a decoder of any rank: every vector along the last
 * axis (an SAE's row, a cross-layer transcoder's (feature, target layer)
 * vector) is set to unit norm, and its gradient loses the component along
 * that vector.
 */
export function unitNormRows(weights: Tensor, gradient: Tensor): { weights: Tensor; gradient: Tensor } {
  const unitRows = div(weights, sqrt(reduceSumSquare(weights, -1, true)));
  const radial = mul(reduceSum(mul(gradient, unitRows), -1, true), unitRows);
  return { weights: unitRows, gradient: sub(gradient, radial) };
}
