import { Rng } from '@nnd/core';
import type { FloatTensor } from './host-tensors.js';
import { parameterShapes } from './parameter-shapes.js';
import type { TransformerConfig } from './transformer-config.js';

/**
 * GPT-2's initialisation: weights N(0, 0.02), the projections that write to
 * the residual stream (W_O, W_out) scaled by 1/sqrt(2 * n_layers) so the
 * residual's variance does not grow with depth, biases 0, norm scales 1.
 */
export function initializeParameters(config: TransformerConfig, seed: number | Rng = 0): Map<string, FloatTensor> {
  const rng = typeof seed === 'number' ? new Rng(seed) : seed;
  const parameters = new Map<string, FloatTensor>();
  const residualScale = 1 / Math.sqrt(2 * Math.max(1, config.layerCount));
  for (const [name, shape] of parameterShapes(config)) {
    const size = shape.reduce((product, dim) => product * dim, 1);
    let data: Float32Array;
    if (/\.(w)$/.test(name)) data = new Float32Array(size).fill(1);
    else if (/\.b(_\w+)?$/.test(name)) data = new Float32Array(size);
    else data = rng.normal(size, 0, /\.(W_O|W_out)$/.test(name) ? 0.02 * residualScale : 0.02);
    parameters.set(name, { dtype: 'float32', shape, data });
  }
  return parameters;
}
