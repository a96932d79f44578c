import { allocate, type Node, type Tensor } from '@nnd/core';
import type { FusedRowUpdates, UpdateFactor } from './fused-row-updates.js';
import onnxProto from 'onnx-proto';
import { intAttribute, stringAttribute, type OnnxGraphWriter } from './onnx-graph-writer.js';

const { onnx } = onnxProto;
const BOOL = onnx.TensorProto.DataType.BOOL;
const INT64 = onnx.TensorProto.DataType.INT64;

/**
 * A ScatterND that adds whole rows (indices [n, 1], updates [n, ...row]) as
 * ONNX ops that are exact (no update lost) and give the same bits on any
 * number of intra-op threads, all of them threaded:
 *
 * 1. the row indices are sorted (TopK over one row: serial, deterministic),
 *    so the updates of each destination row form one run of sorted positions;
 * 2. each run is summed by a pairwise tree: at every level, the update at an
 *    even rank within its run gathers its odd neighbour and adds it (two
 *    Gathers and an Add: each output element is one fixed sum, so the bits do
 *    not depend on how the threads split the work); a run down to one row
 *    leaves the tree. After ceil(log2 n) levels every run is one row;
 * 3. those rows, one per distinct destination, are added into the data with
 *    a ScatterND whose indices are unique, which onnxruntime's threaded kernel
 *    gets right.
 *
 * Why not ScatterND itself: onnxruntime's CPU kernel splits the updates
 * across intra-op threads with no guard on repeated indices, so two threads
 * adding into one row lose updates (microsoft/onnxruntime#18048, still so in
 * 1.30). Its ScatterElements is serial and exact but took 2.5-3 s for the
 * [131072, 768] updates of a TopK SAE step (about 30 ns per element, behind a
 * 400 MB Expand of the indices); running the whole program on one thread, or
 * the scatter in a one-thread session of its own, costs the MatMuls' second
 * core or a copy of the updates out of onnxruntime-node and back. The price
 * here is memory traffic: the updates are gathered into sort order once and
 * the tree reads about as much again, some 3x the bytes of the threaded
 * kernel. The sums are pairwise rather than left to right, so they round
 * differently from a serial kernel, by the usual float error and no more.
 */
export function emitRowScatterAdd(
  writer: OnnxGraphWriter,
  node: Node,
  [data, indices, updates]: readonly string[],
  output: string,
  fusion?: { readonly updates: FusedRowUpdates; readonly valueName: (tensor: Tensor) => string },
): void {
  const name = () => writer.helperName(node);
  const op = (type: string, inputs: readonly string[], attributes: onnxProto.onnx.IAttributeProto[] = []): string => {
    const result = name();
    writer.add(type, inputs, [result], node, attributes);
    return result;
  };
  const int = (value: number) => writer.int64Constant([value], node, []);
  const vector = (values: number[]) => writer.int64Constant(values, node);
  const rowCount = node.inputs[1].shape[0];

  // Keys: row indices in [0, N), negative ones wrapped as ScatterND reads them.
  const flat = op('Reshape', [indices, vector([-1])]);
  const dataRows = op('Shape', [data], [intAttribute('start', 0), intAttribute('end', 1)]);
  const keys = op('Where', [op('Less', [flat, int(0)]), op('Add', [flat, dataRows]), flat]);
  const n = op('Shape', [keys]);
  const [sortedKeys, order] = [name(), name()];
  writer.add('TopK', [keys, n], [sortedKeys, order], node, [intAttribute('axis', 0), intAttribute('largest', 0), intAttribute('sorted', 1)]);

  // Runs of equal keys: where each starts, its length, and each position's run and rank within it.
  const positions = op('Range', [int(0), op('Squeeze', [n]), int(1)]);
  const differs = op('Not', [op('Equal', [op('Slice', [sortedKeys, vector([1]), vector([Number.MAX_SAFE_INTEGER])]), op('Slice', [sortedKeys, vector([0]), vector([-1])])])]);
  const startFlags = op('Concat', [vector([1]), op('Cast', [differs], [intAttribute('to', INT64)])], [intAttribute('axis', 0)]);
  const starts = op('Compress', [positions, op('Cast', [startFlags], [intAttribute('to', BOOL)])], [intAttribute('axis', 0)]);
  const lengths = op('Sub', [op('Concat', [op('Slice', [starts, vector([1]), vector([Number.MAX_SAFE_INTEGER])]), n], [intAttribute('axis', 0)]), starts]);
  let run = op('Sub', [op('CumSum', [startFlags, int(0)]), int(1)]);
  let rankInRun = op('Sub', [positions, op('Gather', [starts, run], [intAttribute('axis', 0)])]);
  let runLength = op('Gather', [lengths, run], [intAttribute('axis', 0)]);

  // Every level's source ends in a zero row, the stand-in partner of an unpaired head (the last of an odd run), so that a level
  // is two Gathers and an Add with no masking pass. Level 0 reads the updates through the sort order with one zero row appended;
  // each later level's sums keep one at the end, the sum of the zero row with itself.
  const zero = name();
  writer.initializer(zero, { dtype: node.inputs[2].dtype, shape: [], data: allocate(node.inputs[2].dtype, 1) });
  const gather = (from: string, at: string) => op('Gather', [from, at], [intAttribute('axis', 0)]);
  // Positions in the level's source of its rows, and of its zero row; `read` gathers rows of the source at positions.
  let rowAt = op('Concat', [order, n], [intAttribute('axis', 0)]);
  let zeroAt = n;
  let read: (at: string) => string;
  if (fusion === undefined) {
    const rowShape = op('Concat', [vector([1]), op('Shape', [updates], [intAttribute('start', 1)])], [intAttribute('axis', 0)]);
    const source = op('Concat', [updates, op('Expand', [zero, rowShape])], [intAttribute('axis', 0)]);
    read = (at) => gather(source, at);
  } else {
    // The updates are a product of two factors (fused-row-updates.ts): level 0 gathers each factor's rows and multiplies them.
    const readers = fusion.updates.factors.map((factor) => factorReader(factor, fusion.valueName, rowCount as number, zero, op, vector, int));
    read = (at) => op('Mul', [readers[0](at), readers[1](at)]);
  }
  const doneRows: string[] = [];
  const doneRuns: string[] = [];
  const levels = typeof rowCount === 'number' ? Math.ceil(Math.log2(Math.max(rowCount, 1))) + 1 : 48;
  for (let level = 0; level < levels; level++) {
    const here = op('Range', [int(0), op('Squeeze', [op('Shape', [runLength])]), int(1)]);
    const single = op('Equal', [runLength, int(1)]);
    const done = op('Compress', [here, single], [intAttribute('axis', 0)]);
    doneRows.push(read(gather(rowAt, done)));
    doneRuns.push(gather(run, done));
    if (level === levels - 1) break;
    const even = op('Equal', [op('Mod', [rankInRun, int(2)]), int(0)]);
    const heads = op('Compress', [here, op('And', [op('Not', [single]), even])], [intAttribute('axis', 0)]);
    const headRank = gather(rankInRun, heads);
    const headLength = gather(runLength, heads);
    const paired = op('Less', [op('Add', [headRank, int(1)]), headLength]);
    const headRows = op('Concat', [gather(rowAt, heads), zeroAt], [intAttribute('axis', 0)]);
    const partnerRows = op('Concat', [op('Where', [paired, gather(rowAt, op('Add', [heads, int(1)])), op('Expand', [zeroAt, op('Shape', [heads])])]), zeroAt], [intAttribute('axis', 0)]);
    const source = op('Add', [read(headRows), read(partnerRows)]);
    read = (at) => gather(source, at);
    const sums = op('Shape', [heads]);
    rowAt = op('Range', [int(0), op('Squeeze', [op('Add', [sums, vector([1])])]), int(1)]);
    zeroAt = sums;
    run = gather(run, heads);
    rankInRun = op('Div', [headRank, int(2)]);
    runLength = op('Div', [op('Add', [headLength, int(1)]), int(2)]);
  }
  const rows = doneRows.length === 1 ? doneRows[0] : op('Concat', doneRows, [intAttribute('axis', 0)]);
  const runs = doneRuns.length === 1 ? doneRuns[0] : op('Concat', doneRuns, [intAttribute('axis', 0)]);
  const uniqueKeys = op('Unsqueeze', [op('Gather', [op('Gather', [sortedKeys, starts], [intAttribute('axis', 0)]), runs], [intAttribute('axis', 0)]), vector([1])]);
  writer.add('ScatterND', [data, uniqueKeys, rows], [output], node, [stringAttribute('reduction', 'add')]);
}

/**
 * Reads rows of one factor of fused updates at positions in [0, n], where
 * position n is the zero row: the factor's rows with a zero row appended,
 * gathered through its row map (update row e reads factor row index(e);
 * a folded Gather's indices are applied after it).
 */
function factorReader(
  factor: UpdateFactor,
  valueName: (tensor: Tensor) => string,
  n: number,
  zero: string,
  op: (type: string, inputs: readonly string[], attributes?: onnxProto.onnx.IAttributeProto[]) => string,
  vector: (values: number[]) => string,
  int: (value: number) => string,
): (at: string) => string {
  const concat = (parts: string[]) => op('Concat', parts, [intAttribute('axis', 0)]);
  const matrix = factor.rows.rank === 2 && factor.rows.shape[1] === factor.width ? valueName(factor.rows) : op('Reshape', [valueName(factor.rows), vector([factor.rowCount, factor.width])]);
  const padded = concat([matrix, op('Expand', [zero, vector([1, factor.width])])]);
  if (factor.terms.length === 0 && factor.gatheredBy === undefined) return (at) => op('Gather', [padded, at], [intAttribute('axis', 0)]);
  let index = op('Range', [int(0), int(n), int(1)]);
  if (factor.terms.length > 0) {
    const terms = factor.terms.map(({ inner, size, stride }) => op('Mul', [op('Mod', [op('Div', [index, int(inner)]), int(size)]), int(stride)]));
    index = terms.reduce((sum, term) => op('Add', [sum, term]));
  }
  if (factor.gatheredBy !== undefined) index = op('Gather', [valueName(factor.gatheredBy), index], [intAttribute('axis', 0)]);
  const map = concat([index, vector([factor.rowCount])]);
  return (at) => op('Gather', [padded, op('Gather', [map, at], [intAttribute('axis', 0)])], [intAttribute('axis', 0)]);
}
