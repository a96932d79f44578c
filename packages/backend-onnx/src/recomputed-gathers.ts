import type { Node, OpAttributes, Tensor } from '@nnd/core';

/**
 * A Gather output at least this large is gathered again for its later
 * readers rather than kept alive for them (when it is also larger than the
 * Gather's inputs, which must then stay alive instead).
 */
export const RECOMPUTE_MIN_BYTES = 16 * 1024 * 1024;

const BYTES: Readonly<Record<string, number>> = { float32: 4, float64: 8, int64: 8, bool: 1 };

/** A Gather emitted a second time, and the nodes that read that copy instead of the original. */
export interface RecomputedGather {
  /** The ONNX value name of the copy. */
  readonly name: string;
  /** Emitted nodes that read the copy; the first reader reads the original. */
  readonly readers: ReadonlySet<Node>;
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
): ReadonlyMap<Tensor, RecomputedGather> {
  const readers = new Map<Tensor, Node[]>();
  for (const node of nodes) {
    for (const tensor of new Set(readsOf(node))) {
      if (tensor.node.op !== 'Gather' || outputs.has(tensor) || !worthRecomputing(tensor)) continue;
      const list = readers.get(tensor) ?? [];
      list.push(node);
      readers.set(tensor, list);
    }
  }
  const planned = new Map<Tensor, RecomputedGather>();
  for (const [tensor, list] of readers) {
    if (list.length > 1) planned.set(tensor, { name: copyName(tensor), readers: new Set(list.slice(1)) });
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

function worthRecomputing(tensor: Tensor): boolean {
  const outputBytes = bytesOf(tensor);
  if (outputBytes === undefined || outputBytes < RECOMPUTE_MIN_BYTES) return false;
  const [data, indices] = tensor.node.inputs;
  const inputBytes = (bytesOf(data) ?? Number.POSITIVE_INFINITY) + (bytesOf(indices) ?? Number.POSITIVE_INFINITY);
  return outputBytes > inputBytes;
}

function bytesOf(tensor: Tensor): number | undefined {
  if (!tensor.shape.every((dim) => typeof dim === 'number')) return undefined;
  return (tensor.shape as number[]).reduce((a, b) => a * b, BYTES[tensor.dtype] ?? 8);
}
