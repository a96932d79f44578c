import type { Node, OpAttributes, Tensor } from '@nnd/core';
import { type Recomputed, bytesOf, planRecomputed, worthRecomputing } from './recomputed-gathers.js';

/**
 * A broadcast at least this large is written once per reader. Smaller ones
 * stay shared: the TopK SAE's [12288, 768] zeros (38 MB), written again for
 * each scatter of every step, raised `peak_rss_mb` in interleaved rounds
 * rather than lowering it (each copy is one more allocation whose hole the
 * next aligned allocation cannot reuse; see the README's Memory section).
 */
export const BROADCAST_MIN_BYTES = 64 * 1024 * 1024;

/**
 * Whether `tensor` is a large broadcast: an Expand of static shape of at
 * least BROADCAST_MIN_BYTES, larger than what it expands (the zeros that a
 * gradient scatters into, `Expand` of a scalar).
 *
 * Such a value is cheap to write again and costly to keep, so the lowering
 * gives every later reader its own copy (`planRecomputedBroadcasts`) and
 * writes every one of them unlike any other (`BroadcastVariants`).
 * onnxruntime frees a value after its last reader, and its optimiser merges
 * equal nodes: constant sharing makes equal scalars one initializer, and
 * common-subexpression elimination makes Expands of equal inputs (initializers
 * compared by value) one node. The TopK SAE's full step scatters into three
 * [4096, 12288] zeros (201 MB), from the forward's sparse activations to the
 * dense encoder gradient, so the merged block lived from the forward to the
 * backward. Kept apart, each Expand is scheduled just before its reader
 * (onnxruntime's order is a depth-first walk back from the outputs). The
 * copies hold the same values, so results do not change.
 */
export function isLargeBroadcast(tensor: Tensor): boolean {
  return tensor.node.op === 'Expand' && (bytesOf(tensor) ?? 0) >= BROADCAST_MIN_BYTES && worthRecomputing(tensor);
}

/** The large broadcasts that more than one emitted node reads, with a copy for each later reader. */
export function planRecomputedBroadcasts(
  nodes: readonly Node[],
  readsOf: (node: Node) => readonly Tensor[],
  outputs: ReadonlySet<Tensor>,
  copyName: (tensor: Tensor) => string,
): ReadonlyMap<Tensor, Recomputed> {
  return planRecomputed(nodes, readsOf, outputs, copyName, isLargeBroadcast, true);
}

/**
 * Counts the large broadcasts written of each input to each shape, so that
 * each is written differently: the n-th (from 0) reads its input with n
 * leading axes of size 1 added, which broadcasts to the same values. An
 * input of rank r broadcast to rank R has R - r + 1 such forms (a scalar to a
 * matrix: three); any more are written as the last form, and onnxruntime
 * merges those into one value again.
 */
export class BroadcastVariants {
  private readonly counts = new Map<string, number>();

  /**
   * How many leading axes of size 1 the next broadcast of `input` to `shape`
   * adds. A small constant is known by its value, as onnxruntime's constant
   * sharing knows it (each `zeros` of the IR is a scalar of its own); any
   * other input by its ONNX value name.
   */
  next(input: Tensor, name: string, shape: readonly number[]): number {
    const key = `${constantKey(input) ?? name}:${shape.join(',')}`;
    const count = this.counts.get(key) ?? 0;
    this.counts.set(key, count + 1);
    return Math.min(count, shape.length - input.rank);
  }
}

function constantKey(tensor: Tensor): string | undefined {
  if (tensor.node.op !== 'Constant') return undefined;
  const { value } = tensor.node.attributes as OpAttributes['Constant'];
  if (value.data.length > 16) return undefined;
  return `constant ${value.dtype} [${value.shape.join(',')}] ${Array.from(value.data as ArrayLike<unknown>, String).join(',')}`;
}
