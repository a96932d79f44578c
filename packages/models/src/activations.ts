import { add, erf, geluTanh, mul, relu, sigmoid, type Tensor } from '@nnd/core';
import type { Activation } from './transformer-config.js';

/** MLP non-linearities by their Hugging Face `hidden_act` / `activation_function` names. */
export const ACTIVATIONS: Readonly<Record<Activation, (x: Tensor) => Tensor>> = {
  /** GPT-2's tanh approximation, 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))). */
  gelu_new: geluTanh,
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
