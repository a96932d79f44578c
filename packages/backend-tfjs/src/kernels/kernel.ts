import type { Dim, OpAttributes, OpName } from '@nnd/core';
import type { TfTensor, Tfjs, TfjsRuntime } from '../tfjs-runtime.js';

export interface KernelContext {
  readonly tf: Tfjs;
  /** Some tfjs kernels are far slower on one runtime than an equivalent route (see gather-rows.ts). */
  readonly runtime: TfjsRuntime;
  /** Names the node in error messages, e.g. `Reshape (node 7)`. */
  readonly where: string;
  /** Resolves a dimension from the sizes bound so far; undefined when a symbol is not bound yet. */
  lookup(dim: Dim): number | undefined;
  /** Like lookup, but a missing symbol is a ShapeError. */
  resolve(dim: Dim): number;
  /**
   * The values of input `index` in host memory, for the few inputs that
   * steer a kernel (TopK's k, Range's bounds). Only inputs listed by the
   * op's HOST_INPUTS entry are loaded.
   */
  hostValues(index: number): ArrayLike<number>;
}

/**
 * Runs one IR node with tfjs ops, inside `tf.tidy` (so temporaries are
 * freed), returning one fresh tensor per IR output. The input tensors belong
 * to the interpreter: a kernel never disposes or returns them.
 */
export type TfjsKernel<O extends OpName> = (inputs: readonly TfTensor[], attributes: OpAttributes[O], context: KernelContext) => TfTensor[];

export type KernelTable<O extends OpName> = { [P in O]: TfjsKernel<P> };
