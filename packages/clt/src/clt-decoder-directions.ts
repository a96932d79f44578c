import { concat, expand, GraphError, reshape, slice, type Graph, type Tensor, type TensorMap } from '@nnd/core';
import type { CltConfig } from './clt-config.js';
import { decoderName } from './clt-parameters.js';

/**
 * Each feature's direction at every layer it writes, for `decoderDirections`:
 * one [n * F, d_out] tensor per written hook j, feature rows in featureActs'
 * order (source layer i, then feature f). Feature (i, f) adds its activation
 * times W_dec_i[f, j - i, :] to hook j when i <= j; features of later
 * sources write nothing there, so their rows are 0. The output at hook j is
 * then b_dec_j plus featureActs times this matrix, as in the forward pass.
 */
export function cltDecoderDirections(config: CltConfig, writes: readonly { hook: string }[], graph: Graph, params: TensorMap): TensorMap {
  const n = config.layers.length;
  const { dict_size: features, output_size: dOut } = config;
  const decoder = (i: number): Tensor => {
    const tensor = params[decoderName(i)];
    if (tensor === undefined) throw new GraphError(`clt decoderDirections: no parameter '${decoderName(i)}' (got {${Object.keys(params).join(', ')}}).`);
    return tensor;
  };
  const zeros = (dtype: Tensor['dtype']) => expand(graph.scalar(0, dtype), [features, dOut]);
  const directions: TensorMap = {};
  for (let j = 0; j < n; j++) {
    const blocks: Tensor[] = [];
    for (let i = 0; i < n; i++) {
      const w = decoder(i);
      blocks.push(i <= j ? reshape(slice(w, { starts: [j - i], ends: [j - i + 1], axes: [1] }), [features, dOut]) : zeros(w.dtype));
    }
    directions[writes[j].hook] = n === 1 ? blocks[0] : concat(blocks, 0);
  }
  return directions;
}
