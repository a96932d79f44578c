import { Graph, GraphError, OP_NAMES, UnsupportedOpError, add, expand, reduceSum, reshape, slice } from '@nnd/core';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { compileToOnnx, ONNX_OPSET } from './compile-to-onnx.js';
import { OP_CASES, buildCase } from './op-cases.test-support.js';

const { onnx } = onnxProto;
type DecodedGraph = { node: onnxProto.onnx.NodeProto[]; input: onnxProto.onnx.ValueInfoProto[]; output: onnxProto.onnx.ValueInfoProto[]; initializer: unknown[] };
const decode = (bytes: Uint8Array) => {
  const model = onnx.ModelProto.decode(bytes);
  return { opsetImport: model.opsetImport, graph: model.graph as unknown as DecodedGraph };
};

describe('compileToOnnx', () => {
  it('writes an opset 18 model whose inputs carry symbolic dims as dim_param', () => {
    const graph = new Graph();
    const x = graph.input('x', ['batch', 4]);
    const model = decode(compileToOnnx(graph, { y: add(x, 1) }).bytes);
    expect(Number(model.opsetImport[0].version)).toBe(ONNX_OPSET);
    const dims = model.graph.input[0].type!.tensorType!.shape!.dim!;
    expect(dims.map((dim) => dim.dimParam || Number(dim.dimValue))).toEqual(['batch', 4]);
    expect(model.graph.output.map((output) => output.name)).toEqual(['y']);
    // The scalar constant is an initializer, the Add writes straight into 'y'.
    expect(model.graph.initializer).toHaveLength(1);
    expect(model.graph.node.map((node) => node.opType)).toEqual(['Add']);
  });

  it('keeps only the ancestors of the requested outputs, and only the inputs they read', () => {
    const graph = new Graph();
    const x = graph.input('x', [2]);
    const unused = graph.input('unused', [3]);
    add(unused, 1);
    const result = compileToOnnx(graph, { y: add(x, x) });
    expect(result.inputs.map((input) => input.name)).toEqual(['x']);
    expect(decode(result.bytes).graph.node).toHaveLength(1);
  });

  it('reads symbolic Reshape and Expand targets from Shape ops, and static ones from initializers', () => {
    const graph = new Graph();
    const x = graph.input('x', ['batch', 'seq', 4]);
    const flat = reshape(x, ['batch*seq', 4]);
    const model = decode(compileToOnnx(graph, { flat, fixed: reshape(x, [-1, 2]) }).bytes);
    const ops = model.graph.node.map((node) => node.opType);
    expect(ops.filter((op) => op === 'Shape')).toHaveLength(2);
    expect(ops).toContain('Mul');
    expect(ops).toContain('Concat');
    expect(ops.filter((op) => op === 'Reshape')).toHaveLength(2);
  });

  it('omits the axes input of a full reduction', () => {
    const graph = new Graph();
    const x = graph.input('x', [2, 3]);
    const model = decode(compileToOnnx(graph, { all: reduceSum(x), some: reduceSum(x, 1) }).bytes);
    const reductions = model.graph.node.filter((node) => node.opType === 'ReduceSum');
    expect(reductions.map((node) => node.input.length)).toEqual([1, 2]);
  });

  it('adds Identity nodes for inputs, constants and tensors exported under two names', () => {
    const graph = new Graph();
    const x = graph.input('x', [2]);
    const y = add(x, 1);
    const model = decode(compileToOnnx(graph, { same: x, first: y, second: y, constant: graph.scalar(3) }).bytes);
    expect(
      model.graph.node
        .filter((node) => node.opType === 'Identity')
        .map((node) => node.output[0])
        .sort(),
    ).toEqual(['constant', 'first', 'same', 'second']);
  });

  it('renames its own values when a user name looks like one', async () => {
    const graph = new Graph();
    const t1 = graph.input('t1', [2]);
    const model = compileToOnnx(graph, { t3: add(t1, 1), t4: add(t1, 2) });
    const session = await ort.InferenceSession.create(model.bytes);
    const result = await session.run({ t1: new ort.Tensor('float32', new Float32Array([1, 2]), [2]) });
    expect(Array.from(result.t3.data as Float32Array)).toEqual([2, 3]);
    expect(Array.from(result.t4.data as Float32Array)).toEqual([3, 4]);
    await session.release();
  });

  it('rejects empty outputs and foreign tensors', () => {
    const graph = new Graph();
    const x = graph.input('x', [2]);
    expect(() => compileToOnnx(graph, {})).toThrow(GraphError);
    expect(() => compileToOnnx(new Graph(), { y: x })).toThrow(GraphError);
  });

  it('renames an input whose name an output reuses (state in, state out)', async () => {
    const graph = new Graph();
    const state = graph.input('state', [2]);
    const model = compileToOnnx(graph, { state: add(state, 1), old: state });
    expect(model.inputs[0]).toMatchObject({ name: 'state', onnxName: 't0' });
    const session = await ort.InferenceSession.create(model.bytes);
    const result = await session.run({ t0: new ort.Tensor('float32', new Float32Array([1, 2]), [2]) });
    expect(Array.from(result.state.data as Float32Array)).toEqual([2, 3]);
    expect(Array.from(result.old.data as Float32Array)).toEqual([1, 2]);
    await session.release();
  });

  it('reports a symbolic dimension that no earlier tensor carries', () => {
    const graph = new Graph();
    const x = graph.input('x', [1, 4]);
    // Only the Expand's own output has 'batch': its size is unknowable at run time.
    expect(() => compileToOnnx(graph, { y: expand(x, ['batch', 4]) })).toThrow(UnsupportedOpError);
    expect(() => compileToOnnx(graph, { y: slice(x, { starts: [0], ends: ['n'], axes: [1] }) })).toThrow(/'n'/);
  });

  it('covers every op of the IR in the op cases', () => {
    expect(new Set(OP_CASES.map((opCase) => opCase.op))).toEqual(new Set(OP_NAMES));
  });

  it.each(OP_CASES.map((opCase) => [opCase.label, opCase] as const))('onnxruntime accepts the model for %s', async (_label, opCase) => {
    const { graph, outputs } = buildCase(opCase);
    const session = await ort.InferenceSession.create(compileToOnnx(graph, outputs).bytes, { logSeverityLevel: 3 });
    expect([...session.outputNames].sort()).toEqual(Object.keys(outputs).sort());
    await session.release();
  });
});
