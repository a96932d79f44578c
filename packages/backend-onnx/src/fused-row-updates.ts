import type { Node, OpAttributes, Tensor } from '@nnd/core';

/**
 * One factor of a row scatter-add's updates that the lowering reads row by
 * row instead of the materialised product: updates row e is a row of
 * `rows` (reshaped to [rowCount, width]), the one at `index`(e).
 */
export interface UpdateFactor {
  /** The tensor whose rows are read (a graph value; reshaped to [rowCount, width] when emitted). */
  readonly rows: Tensor;
  readonly rowCount: number;
  /** The factor's row width: the updates' width, or 1 for a factor broadcast along it. */
  readonly width: number;
  /** Row of `rows` for update row e, as a sum over the updates' leading axes: (e / inner) mod size * stride. Empty when it is e itself. */
  readonly terms: readonly { readonly inner: number; readonly size: number; readonly stride: number }[];
  /** When `rows` was itself gathered along axis 0 by these indices (rank 1), the gather is folded in: row e is source row indices[index(e)]. */
  readonly gatheredBy?: Tensor;
  /** The folded Gather node, not emitted. */
  readonly folded?: Node;
}

/** A row scatter-add whose updates are an elementwise product of two broadcast factors, each read through its own row map. */
export interface FusedRowUpdates {
  readonly factors: readonly [UpdateFactor, UpdateFactor];
  readonly width: number;
}

export interface RowUpdateFusion {
  /** The scatters that read their updates as products of factor rows. */
  readonly fused: ReadonlyMap<Node, FusedRowUpdates>;
  /** The nodes whose only use was such a product (the Mul, its flattening Reshape, folded Gathers): not emitted. */
  readonly skipped: ReadonlySet<Node>;
}

/**
 * Finds the row scatter-adds (ScatterND add, indices [n, 1]) whose updates are
 * Reshape(Mul(a, b), [n, width]) of static shape, with the product used by
 * nothing else. The sparse decoders' and encoders' gradients are such
 * products, [k * batch, width] outer products of a kept value and a row of
 * dy or x (400 MB for a TopK SAE at GPT-2-small size). The sorted-tree
 * lowering reads the updates only through row gathers, so it can gather the
 * factors' rows and multiply them there: the same floats, multiplied in the
 * same order, without the product, and without the copy of it that the tree's
 * first level reads (see row-scatter-add.ts). A factor that is itself a Gather
 * along axis 0 used only by the product is read through its indices too.
 */
export function planRowUpdateFusion(nodes: readonly Node[], outputs: readonly Tensor[], isRowScatterAdd: (node: Node) => boolean): RowUpdateFusion {
  const uses = new Map<Tensor, number>();
  for (const node of nodes) for (const input of node.inputs) uses.set(input, (uses.get(input) ?? 0) + 1);
  for (const output of outputs) uses.set(output, (uses.get(output) ?? 0) + 2);
  const usedOnce = (tensor: Tensor) => uses.get(tensor) === 1;
  const fused = new Map<Node, FusedRowUpdates>();
  const skipped = new Set<Node>();
  for (const node of nodes) {
    if (node.op !== 'ScatterND' || !isRowScatterAdd(node)) continue;
    const updates = node.inputs[2];
    const reshape = updates.node;
    if (reshape.op !== 'Reshape' || !usedOnce(updates)) continue;
    const product = reshape.inputs[0];
    const multiply = product.node;
    if (multiply.op !== 'Mul' || !usedOnce(product) || !isFloat(product.dtype)) continue;
    const [rowCount, width] = updates.shape;
    const shape = product.shape;
    if (typeof rowCount !== 'number' || typeof width !== 'number' || !allStatic(shape) || shape.length < 2 || shape[shape.length - 1] !== width) continue;
    const factors = multiply.inputs.map((input) => factorOf(input, shape, usedOnce));
    if (factors.some((factor) => factor === undefined)) continue;
    fused.set(node, { factors: factors as [UpdateFactor, UpdateFactor], width });
    skipped.add(reshape);
    skipped.add(multiply);
    for (const factor of factors) if (factor!.folded) skipped.add(factor!.folded);
  }
  return { fused, skipped };
}

/** How update row e reads `operand`, broadcast to `shape`; undefined when it cannot be read by rows. */
function factorOf(operand: Tensor, shape: readonly number[], usedOnce: (tensor: Tensor) => boolean): UpdateFactor | undefined {
  if (!allStatic(operand.shape) || operand.rank > shape.length) return undefined;
  const padded = [...new Array<number>(shape.length - operand.rank).fill(1), ...operand.shape];
  const width = padded[padded.length - 1];
  if (width !== shape[shape.length - 1] && width !== 1) return undefined;
  const leading = shape.length - 1;
  for (let axis = 0; axis < leading; axis++) if (padded[axis] !== shape[axis] && padded[axis] !== 1) return undefined;
  const rowCount = padded.slice(0, leading).reduce((a, b) => a * b, 1);
  const full = padded.slice(0, leading).every((size, axis) => size === shape[axis]);
  const terms: { inner: number; size: number; stride: number }[] = [];
  if (!full) {
    for (let axis = 0; axis < leading; axis++) {
      if (padded[axis] === 1) continue;
      terms.push({ inner: product(shape.slice(axis + 1, leading)), size: shape[axis], stride: product(padded.slice(axis + 1, leading)) });
    }
    // Broadcast along every leading axis: one row for all; not worth a path of its own.
    if (terms.length === 0) return undefined;
  }
  // A Gather of whole rows (axis 0, rank-1 indices, rank-2 data) used only here: read its data through its indices.
  const producer = operand.node;
  if (producer.op === 'Gather' && usedOnce(operand) && (producer.attributes as OpAttributes['Gather']).axis === 0) {
    const [data, indices] = producer.inputs;
    if (data.rank === 2 && indices.rank === 1 && allStatic(data.shape) && operand.rank === 2 && padded.length === 2) {
      return { rows: data, rowCount: data.shape[0] as number, width, terms, gatheredBy: indices, folded: producer };
    }
  }
  return { rows: operand, rowCount, width, terms };
}

function product(values: readonly number[]): number {
  return values.reduce((a, b) => a * b, 1);
}

function allStatic(shape: readonly (number | string)[]): shape is readonly number[] {
  return shape.every((dim) => typeof dim === 'number');
}

function isFloat(dtype: string): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16';
}
