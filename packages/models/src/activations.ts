import { add, erf, mul, relu, sigmoid, tanh, type Tensor } from '@nnd/core';
import type { Activation } from './transformer-config.js';

/**
 * GPT-2's tanh-approximated GELU, as core's geluTanh but with x*x*x for x^3:
 * core's Pow gradient is b * y / a, which is 0/0 = NaN wherever a
 * pre-activation is exactly 0 (it happened at step 212 of the tiny LM's
 * training). Same forward values to float32 rounding.
 */
function geluNew(x: Tensor): Tensor {
  const cube = mul(mul(x, x), x);
  const inner = mul(add(x, mul(cube, 0.044715)), Math.sqrt(2 / Math.PI));
  return mul(mul(x, 0.5), add(tanh(inner), 1));
}

/** MLP non-linearities by their Hugging Face `hidden_act` / `activation_function` names. */
export const ACTIVATIONS: Readonly<Record<Activation, (x: Tensor) => Tensor>> = {
  gelu_new: geluNew,
  /** The exact, erf-based GELU (GPT-NeoX / Pythia). */
  gelu: (x) => mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1)),
  relu,
  /** SiLU / swish, Llama's gate non-linearity. */
  silu: (x) => mul(x, sigmoid(x)),
};

/** Hugging Face spellings that mean the same function. */
export const ACTIVATION_ALIASES: Readonly<Record<string, Activation>> = {
  gelu_new: 'gelu_new',
  gelu_pytorch_tanh: 'gelu_new',
  gelu_fast: 'gelu_new',
  gelu: 'gelu',
  relu: 'relu',
  silu: 'silu',
  swish: 'silu',
};
