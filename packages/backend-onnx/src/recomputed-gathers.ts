import { bytesPerElement, type Node, type OpAttributes, type Tensor } from '@nnd/core';

/**
 * A Gather output at least this large is gathered again for its later
 * readers rather than kept alive for them (when it is also larger than the
 * Gather's inputs, which must then stay alive instead).
 */
export const RECOMPUTE_MIN_BYTES = 16 * 1024 * 1024;

/** A value emitted again for its later readers: the ONNX value name each of them reads instead of the original. */
export interface Recomputed {
  /** Emitted nodes that read a copy, and that copy's value name; the first reader reads the original. */
  readonly copies: ReadonlyMap<Node, string>;
}

/**
 * Finds the large Gathers (pure copies of rows of their data) that more than
 * one emitted node reads. onnxruntime frees a value after its last reader, so
 * a Gather read in the forward pass and again in the backward pass lives
 * from one to the other: the sparse decoder's gathered decoder rows, [batch,
 * k, act_size] (403 MB for a TopK SAE at GPT-2-small size), were alive
 * through the whole backward, across both row scatter-adds. Gathering again
 * for the later readers costs one copy of the output; the data and indices it
 * reads (a parameter and the kept features) stay alive anyway. The copy holds
 * the same bits, so results do not change.
 *
 * `readsOf` gives the tensors an emitted node reads (a fused row scatter-add
 * reads its factors too); `nodes` are in emission order, so the first reader
 * is the forward's.
 */
export function planRecomputedGathers(
  nodes: readonly Node[],
  readsOf: (node: Node) => readonly Tensor[],
  outputs: ReadonlySet<Tensor>,
  copyName: (tensor: Tensor) => string,
): ReadonlyMap<Tensor, Recomputed> {
  return planRecomputed(nodes, readsOf, outputs, copyName, (tensor) => tensor.node.op === 'Gather' && worthRecomputing(tensor), false);
}

/**
 * The tensors for which `recompute` holds that more than one emitted node
 * reads, with a copy for their later readers (the first reads the original):
 * one copy that they share, or with `perReader` one each.
 */
export function planRecomputed(
  nodes: readonly Node[],
  readsOf: (node: Node) => readonly Tensor[],
  outputs: ReadonlySet<Tensor>,
  copyName: (tensor: Tensor) => string,
  recompute: (tensor: Tensor) => boolean,
  perReader: boolean,
): ReadonlyMap<Tensor, Recomputed> {
  const readers = new Map<Tensor, Node[]>();
  for (const node of nodes) {
    for (const tensor of new Set(readsOf(node))) {
      if (outputs.has(tensor) || !recompute(tensor)) continue;
      const list = readers.get(tensor) ?? [];
      list.push(node);
      readers.set(tensor, list);
    }
  }
  const planned = new Map<Tensor, Recomputed>();
  for (const [tensor, list] of readers) {
    if (list.length < 2) continue;
    const shared = perReader ? undefined : copyName(tensor);
    planned.set(tensor, { copies: new Map(list.slice(1).map((reader) => [reader, shared ?? copyName(tensor)])) });
  }
  return planned;
}

/**
 * The Gather's attributes for its copy: the same axis counted from the end.
 * onnxruntime's common-subexpression elimination merges nodes whose op,
 * inputs and attributes are equal, which would make the copy the original
 * again; an equal axis written differently keeps it a node of its own.
 */
export function copyAxis(gather: Node): number {
  const rank = gather.inputs[0].rank;
  const { axis } = gather.attributes as OpAttributes['Gather'];
  return axis < 0 ? axis + rank : axis - rank;
}

/** Whether a copy is at least {@link RECOMPUTE_MIN_BYTES} and larger than its node's inputs. */
export function worthRecomputing(tensor: Tensor): boolean {
  const outputBytes = bytesOf(tensor);
  if (outputBytes === undefined || outputBytes < RECOMPUTE_MIN_BYTES) return false;
  const inputBytes = tensor.node.inputs.reduce((sum, input) => sum + (bytesOf(input) ?? Number.POSITIVE_INFINITY), 0);
  return outputBytes > inputBytes;
}

/** Bytes of a tensor of static shape; undefined when symbolic. */
export function bytesOf(tensor: Tensor): number | undefined {
  if (!tensor.shape.every((dim) => typeof dim === 'number')) return undefined;
  return (tensor.shape as number[]).reduce((a, b) => a * b, bytesPerElement(tensor.dtype));
}
