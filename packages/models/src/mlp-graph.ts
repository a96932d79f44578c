import { add, mul, type Tensor } from '@nnd/core';
import { ACTIVATIONS } from './activations.js';
import { hookName } from './hook-points.js';
import type { TransformerConfig } from './transformer-config.js';

/** What one MLP block's computation reads from its caller. */
export interface MlpGraphParts {
  /** x @ W for the block's matrix `weight` (`blocks.L.mlp.W_in`): the model's own product, or one a decomposition computes. */
  product(x: Tensor, weight: string): Tensor;
  /** One of the block's biases (`blocks.L.mlp.b_in`); undefined when the model has none. */
  bias(name: string): Tensor | undefined;
  /** Sees (and may replace) the value at a hook inside the block (`blocks.L.mlp.hook_pre`); default: the value. */
  hook?(name: string, value: Tensor): Tensor;
}

/**
 * The MLP of block `layer` on its input x [..., d_model] (the output of
 * ln2), as the transformer's forward pass computes it: act(x W_in + b_in)
 * W_out + b_out, or act(x W_gate) (x W_in + b_in) W_out + b_out for a gated
 * MLP. The forward pass and decompositions that replace an MLP by running
 * it with other products (SPD's components) share this one definition.
 */
export function mlpGraph(x: Tensor, config: TransformerConfig, layer: number, parts: MlpGraphParts): Tensor {
  const prefix = `blocks.${layer}.mlp`;
  const activation = ACTIVATIONS[config.activation];
  const hook = parts.hook ?? ((_name: string, value: Tensor) => value);
  const linear = (input: Tensor, weight: string, bias: string) => {
    const product = parts.product(input, weight);
    const b = parts.bias(bias);
    return b ? add(product, b) : product;
  };
  let post: Tensor;
  if (config.gatedMlp) {
    const gate = hook(hookName('pre', layer), parts.product(x, `${prefix}.W_gate`));
    const linearBranch = hook(hookName('pre_linear', layer), linear(x, `${prefix}.W_in`, `${prefix}.b_in`));
    post = hook(hookName('post', layer), mul(activation(gate), linearBranch));
  } else {
    const pre = hook(hookName('pre', layer), linear(x, `${prefix}.W_in`, `${prefix}.b_in`));
    post = hook(hookName('post', layer), activation(pre));
  }
  return linear(post, `${prefix}.W_out`, `${prefix}.b_out`);
}
