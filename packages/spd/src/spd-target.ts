import type { ActivationPort, Graph, HostTensor, Tensor, TensorMap } from '@nnd/core';
import type { TransformerConfig } from '@nnd/models';

/** Computes a weight matrix's product in place of x @ W (see @nnd/models' MatrixProduct). */
export type MatrixProduct = (x: Tensor, weight: Tensor) => Tensor;

/** A weight matrix SPD can decompose, as the model multiplies by it: x [..., d_in] @ W [d_in, d_out]. */
export interface TargetMatrix {
  readonly dIn: number;
  readonly dOut: number;
}

/**
 * The frozen model SPD decomposes, as SPD needs it: its weights, its
 * matrices, and its forward pass with chosen matrices' products computed by
 * given functions. `transformerTarget` wraps a HookedTransformer, `tmsTarget`
 * the toy model of superposition.
 */
export interface SpdTarget {
  /** What tells runs apart: the model's name. */
  readonly name: string;
  /** The streams one batch row of the model's input is (token ids [seq] for a language model, features for a toy). */
  readonly inputs: readonly ActivationPort[];
  /** The leading shape of a matrix's input for `rows` batch rows: [rows] for a toy, [rows, seq] for a language model. */
  positions(rows: number): number[];
  /** The matrices by module name. */
  readonly matrices: ReadonlyMap<string, TargetMatrix>;
  /** Every frozen tensor the forward pass reads, by name (fed once to every step). */
  weights(): Record<string, HostTensor>;
  /** The name in `weights()` of a matrix's W [d_in, d_out]. */
  weightOf(module: string): string;
  /** The transformer the matrices belong to, when they do: its MLP blocks are what SPD of MLP matrices replaces in comparisons (spdMlpReplacements). */
  readonly transformer?: TransformerConfig;
  /** How outputs are compared: KL on a language model's logits, MSE for a toy model. */
  readonly outputLoss: 'kl' | 'mse';
  /** The model's output [...positions, d_out] on `inputs`, with `products` replacing the named matrices' products. */
  forward(graph: Graph, inputs: TensorMap, weights: TensorMap, products: Readonly<Record<string, MatrixProduct>>): Tensor;
}
