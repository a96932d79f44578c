import {
  COMPARISONS,
  ELEMENTWISE_BINARY,
  ELEMENTWISE_UNARY,
  GraphError,
  REDUCTIONS,
  Tensor,
  UnsupportedOpError,
  symbolSources,
  type DType,
  type Dim,
  type Graph,
  type Node,
  type OpAttributes,
  type OpName,
} from '@nnd/core';
import onnxProto from 'onnx-proto';
import { onnxDataType } from './onnx-dtype.js';
import { OnnxGraphWriter, floatAttribute, intAttribute, intsAttribute, stringAttribute } from './onnx-graph-writer.js';
import { planRowUpdateFusion } from './fused-row-updates.js';
import { BroadcastVariants, isLargeBroadcast, planRecomputedBroadcasts } from './recomputed-broadcasts.js';
import { copyAxis, planRecomputedGathers } from './recomputed-gathers.js';
import { emitRowScatterAdd } from './row-scatter-add.js';

const { onnx } = onnxProto;

/** LayerNormalization needs opset 17; 18 moves every reduction's axes to an input. */
export const ONNX_OPSET = 18;
/** IR version 8 shipped with opset 18 (ONNX 1.13); onnxruntime 1.30 loads it. */
export const ONNX_IR_VERSION = 8;

export interface OnnxValueInfo {
  /** The IR name: a graph input's name, or the requested output name. */
  readonly name: string;
  /** The ONNX value name; differs from `name` for an input whose name an output reuses. */
  readonly onnxName: string;
  readonly dtype: DType;
  readonly shape: readonly Dim[];
}

export interface OnnxModel {
  /** The serialized ModelProto. */
  readonly bytes: Uint8Array;
  /** Graph inputs the outputs depend on, named as in the IR graph. */
  readonly inputs: readonly OnnxValueInfo[];
  /** The requested outputs, under their requested names. */
  readonly outputs: readonly OnnxValueInfo[];
  /**
   * Whether it holds a ScatterND that reduces ('add') and could not be
   * written as a sorted, pairwise sum (indices of more than one coordinate):
   * onnxruntime's CPU kernel splits the updates across intra-op threads with
   * no guard on repeated indices, so two threads adding into one row lose
   * updates (microsoft/onnxruntime#18048). Such a model must run on one thread.
   */
  readonly reducingScatterND: boolean;
}

// Ops whose IR signature is exactly the ONNX one, attributes included (none).
const ONE_TO_ONE = new Set<OpName>([...ELEMENTWISE_BINARY, ...COMPARISONS, ...ELEMENTWISE_UNARY, 'Where', 'MatMul']);

export interface CompileToOnnxOptions {
  /**
   * How a ScatterND adding whole rows is written. 'sorted-tree' (default; onnxruntime's CPU
   * provider): sort + pairwise sums + a scatter of unique rows, exact and threaded (row-scatter-add.ts).
   * 'scatter-elements': one ScatterElements, for providers that reject the tree's empty Concat
   * inputs (WebGPU: "number of element of uniform variable must be greater than 0").
   */
  readonly rowScatterAdd?: 'sorted-tree' | 'scatter-elements';
}

/**
 * Compiles the part of `graph` that `outputs` depend on into an ONNX model
 * (opset 18). Values are named `t<id>` after IR tensors, graph inputs keep
 * their names, and outputs take the requested names.
 */
export function compileToOnnx(graph: Graph, outputs: Readonly<Record<string, Tensor>>, options: CompileToOnnxOptions = {}): OnnxModel {
  const entries = Object.entries(outputs);
  if (entries.length === 0) throw new GraphError('compileToOnnx: no outputs requested; pass at least one named output.');
  for (const [name, tensor] of entries) {
    if (!(tensor instanceof Tensor) || tensor.graph !== graph) {
      throw new GraphError(`compileToOnnx: output '${name}' is ${String(tensor)}, not a tensor of the graph being compiled.`);
    }
  }
  const nodes = graph.ancestors(entries.map(([, tensor]) => tensor));
  const inputTensors = nodes.filter((node) => node.op === 'Input').map((node) => node.outputs[0]);
  const inputName = (tensor: Tensor) => (tensor.node as Node<'Input'>).attributes.name;
  const prefix = valuePrefix([...inputTensors.map(inputName), ...entries.map(([name]) => name)]);
  // An output may reuse an input's name (state in, state out); ONNX names must be unique, so such an input is renamed.
  const onnxInputName = (tensor: Tensor) => (Object.hasOwn(outputs, inputName(tensor)) ? `${prefix}${tensor.id}` : inputName(tensor));

  // A tensor exported under exactly one name is computed straight into it; graph
  // inputs, initializers and tensors exported twice reach their names through Identity.
  const exports = new Map<Tensor, string[]>();
  for (const [name, tensor] of entries) exports.set(tensor, [...(exports.get(tensor) ?? []), name]);
  const direct = new Map<Tensor, string>();
  for (const [tensor, names] of exports) {
    if (names.length === 1 && tensor.node.op !== 'Input' && tensor.node.op !== 'Constant') direct.set(tensor, names[0]);
  }
  const valueName = (tensor: Tensor): string => (tensor.node.op === 'Input' ? onnxInputName(tensor) : (direct.get(tensor) ?? `${prefix}${tensor.id}`));

  const writer = new OnnxGraphWriter(prefix, symbolSources(nodes), valueName);
  const rowScatterAdd = options.rowScatterAdd ?? 'sorted-tree';
  const fusion =
    rowScatterAdd === 'sorted-tree'
      ? planRowUpdateFusion(
          nodes,
          entries.map(([, tensor]) => tensor),
          (node) => (node.attributes as OpAttributes['ScatterND']).reduction === 'add' && scattersRows(node),
        )
      : undefined;
  const emitted = nodes.filter((node) => !fusion?.skipped.has(node));
  const readsOf = (node: Node): Tensor[] => [...node.inputs, ...(fusion?.fused.get(node)?.factors.flatMap((factor) => (factor.gatheredBy ? [factor.rows, factor.gatheredBy] : [factor.rows])) ?? [])];
  const outputSet = new Set(exports.keys());
  const copyName = (tensor: Tensor) => writer.helperName(tensor.node);
  const recomputed = new Map([...planRecomputedGathers(emitted, readsOf, outputSet, copyName), ...planRecomputedBroadcasts(emitted, readsOf, outputSet, copyName)]);
  const copiesEmitted = new Set<string>();
  const variants = new BroadcastVariants();
  for (const node of emitted) {
    // A later reader of a large Gather or broadcast reads a copy made for it (see recomputed-gathers.ts, recomputed-broadcasts.ts).
    const reads = new Map<Tensor, string>();
    for (const [tensor, { copies }] of recomputed) {
      const copy = copies.get(node);
      if (copy === undefined) continue;
      reads.set(tensor, copy);
      if (copiesEmitted.has(copy)) continue;
      copiesEmitted.add(copy);
      const source = tensor.node;
      if (source.op === 'Gather') emitGatherCopy(writer, source, valueName, copy);
      else emitLargeBroadcast(writer, source, valueName, copy, variants);
    }
    const read = reads.size === 0 ? valueName : (tensor: Tensor) => reads.get(tensor) ?? valueName(tensor);
    const fused = fusion?.fused.get(node);
    if (fused) emitRowScatterAdd(writer, node, node.inputs.map(read), read(node.outputs[0]), { updates: fused, valueName: read });
    else emitNode(writer, node, read, rowScatterAdd, variants);
  }
  for (const [name, tensor] of entries) {
    if (valueName(tensor) !== name) writer.add('Identity', [valueName(tensor)], [name], tensor.node);
  }

  const modelInputs = inputTensors.map((tensor) => ({ name: inputName(tensor), onnxName: onnxInputName(tensor), dtype: tensor.dtype, shape: tensor.shape }));
  const modelOutputs = entries.map(([name, tensor]) => ({ name, onnxName: name, dtype: tensor.dtype, shape: tensor.shape }));
  const bytes = onnx.ModelProto.encode({
    irVersion: ONNX_IR_VERSION,
    producerName: '@nnd/backend-onnx',
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    graph: {
      name: 'nnd',
      node: writer.nodes,
      initializer: writer.initializers,
      input: modelInputs.map(valueInfo),
      output: modelOutputs.map(valueInfo),
    },
  }).finish();
  const reducingScatterND = nodes.some((node) => node.op === 'ScatterND' && (node.attributes as OpAttributes['ScatterND']).reduction !== 'none' && !scattersRows(node));
  return { bytes, inputs: modelInputs, outputs: modelOutputs, reducingScatterND };
}

function emitNode(writer: OnnxGraphWriter, node: Node, valueName: (tensor: Tensor) => string, rowScatterAdd: NonNullable<CompileToOnnxOptions['rowScatterAdd']>, variants: BroadcastVariants): void {
  const inputs = node.inputs.map(valueName);
  const outputs = node.outputs.map(valueName);
  const emit = (opType: string, extraInputs: string[] = [], attributes: onnxProto.onnx.IAttributeProto[] = []) => writer.add(opType, [...inputs, ...extraInputs], outputs, node, attributes);
  if (node.op === 'Input') return;
  const op: OpName = node.op;
  if (op === 'StopGradient') return emit('Identity');
  if (op === 'Erf' && node.inputs[0].dtype === 'float64') return emitThroughFloat32(writer, node, inputs[0], outputs[0]);
  if (op === 'Where' && node.outputs[0].dtype === 'bool') return emitBoolWhere(writer, node, inputs, outputs[0]);
  if (ONE_TO_ONE.has(op)) return emit(op);
  if (REDUCTIONS.includes(op)) {
    const { axes, keepdims } = node.attributes as OpAttributes['ReduceSum'];
    // No axes input means "reduce all" (noop_with_empty_axes stays 0).
    return emit(op, axes.length > 0 ? [writer.int64Constant(axes, node)] : [], [intAttribute('keepdims', keepdims)]);
  }
  switch (op) {
    case 'Constant':
      return writer.initializer(outputs[0], (node.attributes as OpAttributes['Constant']).value);
    case 'Cast':
      return emit('Cast', [], [intAttribute('to', onnxDataType((node.attributes as OpAttributes['Cast']).to))]);
    case 'Expand':
      if (isLargeBroadcast(node.outputs[0])) return emitLargeBroadcast(writer, node, valueName, outputs[0], variants);
      return emit(op, [writer.dimsTensor((node.attributes as OpAttributes['Expand']).shape, node)]);
    case 'Reshape':
      return emit(op, [writer.dimsTensor((node.attributes as OpAttributes['Reshape']).shape, node)]);
    case 'Transpose':
      return emit(op, [], [intsAttribute('perm', (node.attributes as OpAttributes['Transpose']).perm)]);
    case 'Unsqueeze':
    case 'Squeeze':
      return emit(op, [writer.int64Constant((node.attributes as OpAttributes['Squeeze']).axes, node)]);
    case 'Concat':
    case 'Gather':
    case 'GatherElements':
    case 'Softmax':
    case 'LogSoftmax':
      return emit(op, [], [intAttribute('axis', (node.attributes as OpAttributes['Concat']).axis)]);
    case 'Slice': {
      const { starts, ends, axes, steps } = node.attributes as OpAttributes['Slice'];
      const bounds = [writer.dimsTensor(starts, node), writer.dimsTensor(ends, node)];
      return emit(op, [...bounds, writer.int64Constant(axes, node), writer.int64Constant(steps, node)]);
    }
    case 'Range':
      // `length` only names the output size for shape inference; ONNX computes it from the bounds.
      return emit(op);
    case 'Shape': {
      const { start, end } = node.attributes as OpAttributes['Shape'];
      return emit(op, [], end === undefined ? [intAttribute('start', start)] : [intAttribute('start', start), intAttribute('end', end)]);
    }
    case 'ScatterElements': {
      const { axis, reduction } = node.attributes as OpAttributes['ScatterElements'];
      return emit(op, [], [intAttribute('axis', axis), stringAttribute('reduction', reduction)]);
    }
    case 'ScatterND': {
      const { reduction } = node.attributes as OpAttributes['ScatterND'];
      if (reduction === 'add' && scattersRows(node)) {
        return rowScatterAdd === 'scatter-elements' ? emitRowScatterAsElements(writer, node, inputs, outputs[0], node.inputs[0].rank, reduction) : emitRowScatterAdd(writer, node, inputs, outputs[0]);
      }
      return emit(op, [], [stringAttribute('reduction', reduction)]);
    }
    case 'TopK': {
      const { axis, largest, sorted } = node.attributes as OpAttributes['TopK'];
      return emit(op, [], [intAttribute('axis', axis), intAttribute('largest', largest), intAttribute('sorted', sorted)]);
    }
    case 'Trilu': {
      const { upper, k } = node.attributes as OpAttributes['Trilu'];
      return emit(op, [writer.int64Constant([k], node, [])], [intAttribute('upper', upper)]);
    }
    case 'LayerNormalization': {
      const { axis, epsilon } = node.attributes as OpAttributes['LayerNormalization'];
      return emit(op, [], [intAttribute('axis', axis), floatAttribute('epsilon', epsilon)]);
    }
    case 'CustomVjp': {
      // The rule only matters to autodiff; at run time the outputs are the forward results it wraps.
      const { primalCount } = node.attributes as OpAttributes['CustomVjp'];
      return outputs.forEach((output, index) => writer.add('Identity', [inputs[primalCount + index]], [output], node));
    }
    default:
      throw new UnsupportedOpError(`${op} (node ${node.id}): the ONNX compiler has no mapping for this op.`);
  }
}

/**
 * A large broadcast, written so that no other Expand of the same value to the
 * same shape is equal to it (recomputed-broadcasts.ts): the n-th such Expand
 * reads its input with n leading axes of size 1 added, which broadcasts the
 * same.
 */
function emitLargeBroadcast(writer: OnnxGraphWriter, node: Node, valueName: (tensor: Tensor) => string, output: string, variants: BroadcastVariants): void {
  const [input] = node.inputs;
  const shape = node.outputs[0].shape as number[];
  const added = variants.next(input, valueName(input), shape);
  let source = valueName(input);
  if (added > 0) {
    source = writer.helperName(node);
    writer.add(
      'Unsqueeze',
      [
        valueName(input),
        writer.int64Constant(
          Array.from({ length: added }, (_, axis) => axis),
          node,
        ),
      ],
      [source],
      node,
    );
  }
  writer.add('Expand', [source, writer.int64Constant(shape, node)], [output], node);
}

/**
 * A later reader's copy of a large Gather (recomputed-gathers.ts), gathered
 * through its indices reshaped to another rank and reshaped back (a Reshape
 * is a view). onnxruntime's sequential planner gives a new value the buffer
 * of a dead value of the same shape and frees a buffer only after the last
 * reader of every value placed in it: a copy shaped like its original took
 * the original's buffer, which then lived from the forward pass to the
 * backward all the same (the 403 MB decoder rows of a TopK SAE at
 * GPT-2-small size, through both row scatter-adds). The axis is written as
 * `copyAxis` gives it, so that no optimisation sees two equal Gathers.
 */
function emitGatherCopy(writer: OnnxGraphWriter, node: Node, valueName: (tensor: Tensor) => string, output: string): void {
  const [data, indices] = node.inputs;
  const count = (indices.shape as number[]).reduce((product, size) => product * size, 1);
  const [flatIndices, gathered] = [writer.helperName(node), writer.helperName(node)];
  writer.add('Reshape', [valueName(indices), writer.int64Constant(indices.rank === 1 ? [1, count] : [count], node)], [flatIndices], node);
  writer.add('Gather', [valueName(data), flatIndices], [gathered], node, [intAttribute('axis', copyAxis(node))]);
  writer.add('Reshape', [gathered, writer.int64Constant(node.outputs[0].shape as number[], node)], [output], node);
}

/** onnxruntime's CPU provider has no float64 Erf kernel: evaluate in float32 (about 1e-7 relative error). */
function emitThroughFloat32(writer: OnnxGraphWriter, node: Node, input: string, output: string): void {
  const narrow = writer.helperName(node);
  const result = writer.helperName(node);
  writer.add('Cast', [input], [narrow], node, [intAttribute('to', onnxDataType('float32'))]);
  writer.add(node.op, [narrow], [result], node);
  writer.add('Cast', [result], [output], node, [intAttribute('to', onnxDataType('float64'))]);
}

/** A ScatterND whose indices are [n, 1]: each update is a whole row of the data (see row-scatter-add.ts). */
function scattersRows(node: Node): boolean {
  const indices = node.inputs[1];
  return indices.rank === 2 && indices.shape[1] === 1;
}

/** onnxruntime's CPU provider has no bool Where kernel: (c and x) or (not c and y), with the same broadcasting. */
function emitBoolWhere(writer: OnnxGraphWriter, node: Node, [condition, whenTrue, whenFalse]: string[], output: string): void {
  const [kept, negated, alternative] = [writer.helperName(node), writer.helperName(node), writer.helperName(node)];
  writer.add('And', [condition, whenTrue], [kept], node);
  writer.add('Not', [condition], [negated], node);
  writer.add('And', [negated, whenFalse], [alternative], node);
  writer.add('Or', [kept, alternative], [output], node);
}

function valueInfo(info: OnnxValueInfo): onnxProto.onnx.IValueInfoProto {
  const dim = info.shape.map((size) => (typeof size === 'number' ? { dimValue: size } : { dimParam: size }));
  return { name: info.onnxName, type: { tensorType: { elemType: onnxDataType(info.dtype), shape: { dim } } } };
}

/** 't', or '_t', '__t'...: the first prefix that no input or output name starts with, followed by a digit. */
function valuePrefix(userNames: readonly string[]): string {
  let prefix = 't';
  while (userNames.some((name) => name.startsWith(prefix) && /^\d/.test(name.slice(prefix.length)))) prefix = `_${prefix}`;
  return prefix;
}

/** A row scatter as ScatterElements over the row index expanded to every element of its row (4 bytes per updated element). */
function emitRowScatterAsElements(writer: OnnxGraphWriter, node: Node, [data, indices, updates]: string[], output: string, rank: number, reduction: string): void {
  const [narrow, column, shape, expanded] = [writer.helperName(node), writer.helperName(node), writer.helperName(node), writer.helperName(node)];
  writer.add('Cast', [indices], [narrow], node, [intAttribute('to', onnx.TensorProto.DataType.INT32)]);
  writer.add('Reshape', [narrow, writer.int64Constant([-1, ...Array.from({ length: rank - 1 }, () => 1)], node)], [column], node);
  writer.add('Shape', [updates], [shape], node);
  writer.add('Expand', [column, shape], [expanded], node);
  writer.add('ScatterElements', [data, expanded, updates], [output], node, [intAttribute('axis', 0), stringAttribute('reduction', reduction)]);
}
