import { describe, expect, it } from 'vitest';
import { crossEntropy, geluTanh, rmsNorm } from './composites.js';
import { hostTensor, type HostTensor } from './dtype.js';
import { grad } from './grad.js';
import { Graph } from './graph.js';
import { OP_NAMES, type OpName } from './op-set.js';
import * as ops from './primitives.js';
import { evaluateGraph } from './reference/index.js';
import { Rng } from './rng.js';
import type { Dim } from './shape.js';
import type { Tensor } from './tensor.js';

/**
 * Every gradient rule against central finite differences in float64, through
 * the reference interpreter. Each case builds f(inputs) -> tensor; the loss is
 * sum(f * w) for a fixed random w, so every output element matters.
 */
interface Case {
  name: string;
  ops: OpName[];
  inputs: Record<string, { shape: Dim[]; values: HostTensor<'float64'> }>;
  build(graph: Graph, inputs: Record<string, Tensor>): Tensor;
  tolerance?: number;
  /** Finite-difference step; larger where float32 rounding would swamp 1e-6. */
  step?: number;
}

const rng = new Rng(2024);

function random(shape: number[], low = -1, high = 1): HostTensor<'float64'> {
  const size = shape.reduce((p, d) => p * d, 1);
  return hostTensor('float64', shape, Float64Array.from(rng.uniform(size, low, high), Number));
}

/** Values spread apart so that max, top-k and relu are differentiable there. */
function distinct(shape: number[]): HostTensor<'float64'> {
  const size = shape.reduce((p, d) => p * d, 1);
  const perm = rng.permutation(size);
  return hostTensor(
    'float64',
    shape,
    Float64Array.from(perm, (p) => (p - size / 2 + 0.5) * 0.1),
  );
}

function input(shape: number[], values = random(shape), declared: Dim[] = shape) {
  return { shape: declared, values };
}

function int64(graph: Graph, values: number[], shape: number[]): Tensor {
  return graph.constant(values, shape, 'int64');
}

const cases: Case[] = [
  { name: 'Add broadcast', ops: ['Add'], inputs: { a: input([2, 3]), b: input([3]) }, build: (g, { a, b }) => ops.add(a, b) },
  { name: 'Sub broadcast both ways', ops: ['Sub'], inputs: { a: input([2, 1, 3]), b: input([4, 1]) }, build: (g, { a, b }) => ops.sub(a, b) },
  { name: 'Mul broadcast', ops: ['Mul'], inputs: { a: input([2, 3]), b: input([2, 1]) }, build: (g, { a, b }) => ops.mul(a, b) },
  { name: 'Div', ops: ['Div'], inputs: { a: input([2, 3]), b: input([3], random([3], 1, 2)) }, build: (g, { a, b }) => ops.div(a, b) },
  { name: 'Pow', ops: ['Pow'], inputs: { a: input([2, 3], random([2, 3], 0.5, 2)), b: input([3], random([3], 0.5, 2)) }, build: (g, { a, b }) => ops.pow(a, b) },
  { name: 'Max', ops: ['Max'], inputs: { a: input([2, 3], distinct([2, 3])), b: input([3], random([3], -0.04, 0.04)) }, build: (g, { a, b }) => ops.maximum(a, b) },
  { name: 'Min', ops: ['Min'], inputs: { a: input([2, 3], distinct([2, 3])), b: input([3], random([3], -0.04, 0.04)) }, build: (g, { a, b }) => ops.minimum(a, b) },
  { name: 'Neg', ops: ['Neg'], inputs: { x: input([4]) }, build: (g, { x }) => ops.neg(x) },
  { name: 'Abs', ops: ['Abs'], inputs: { x: input([6], distinct([6])) }, build: (g, { x }) => ops.abs(x) },
  { name: 'Sqrt', ops: ['Sqrt'], inputs: { x: input([5], random([5], 0.5, 2)) }, build: (g, { x }) => ops.sqrt(x) },
  { name: 'Exp', ops: ['Exp'], inputs: { x: input([5]) }, build: (g, { x }) => ops.exp(x) },
  { name: 'Log', ops: ['Log'], inputs: { x: input([5], random([5], 0.5, 2)) }, build: (g, { x }) => ops.log(x) },
  { name: 'Tanh', ops: ['Tanh'], inputs: { x: input([5]) }, build: (g, { x }) => ops.tanh(x) },
  { name: 'Erf', ops: ['Erf'], inputs: { x: input([5]) }, build: (g, { x }) => ops.erf(x) },
  { name: 'Sigmoid', ops: ['Sigmoid'], inputs: { x: input([5]) }, build: (g, { x }) => ops.sigmoid(x) },
  { name: 'Relu', ops: ['Relu'], inputs: { x: input([6], distinct([6])) }, build: (g, { x }) => ops.relu(x) },
  { name: 'Identity', ops: ['Identity'], inputs: { x: input([3]) }, build: (g, { x }) => ops.identity(x) },
  {
    name: 'Where with broadcasting',
    ops: ['Where'],
    inputs: { x: input([2, 3]), y: input([3]) },
    build: (g, { x, y }) => ops.where(g.constant([1, 0, 1, 0, 0, 1], [2, 3], 'bool'), x, y),
  },
  {
    name: 'Cast float64 -> float32 -> float64',
    ops: ['Cast'],
    inputs: { x: input([4]) },
    tolerance: 1e-3,
    step: 1e-3,
    build: (g, { x }) => ops.cast(ops.cast(x, 'float32'), 'float64'),
  },
  { name: 'MatMul 2-D', ops: ['MatMul'], inputs: { a: input([2, 3]), b: input([3, 4]) }, build: (g, { a, b }) => ops.matmul(a, b) },
  { name: 'MatMul batched broadcast', ops: ['MatMul'], inputs: { a: input([2, 1, 3, 4]), b: input([3, 4, 2]) }, build: (g, { a, b }) => ops.matmul(a, b) },
  { name: 'MatMul layer over batch and position', ops: ['MatMul'], inputs: { a: input([2, 3, 4]), b: input([4, 5]) }, build: (g, { a, b }) => ops.matmul(a, b) },
  { name: 'MatMul layer over a symbolic batch', ops: ['MatMul'], inputs: { a: input([2, 3, 4], random([2, 3, 4]), ['batch', 3, 4]), b: input([4, 5]) }, build: (g, { a, b }) => ops.matmul(a, b) },
  { name: 'MatMul vector-matrix', ops: ['MatMul'], inputs: { a: input([3]), b: input([2, 3, 4]) }, build: (g, { a, b }) => ops.matmul(a, b) },
  { name: 'MatMul matrix-vector', ops: ['MatMul'], inputs: { a: input([2, 3]), b: input([3]) }, build: (g, { a, b }) => ops.matmul(a, b) },
  { name: 'MatMul vector-vector', ops: ['MatMul'], inputs: { a: input([3]), b: input([3]) }, build: (g, { a, b }) => ops.matmul(a, b) },
  {
    name: 'Reshape with -1',
    ops: ['Reshape'],
    inputs: { x: input([2, 6]) },
    build: (g, { x }) => ops.mul(ops.reshape(x, [3, -1]), g.constant([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [3, 4], 'float64')),
  },
  { name: 'Transpose', ops: ['Transpose'], inputs: { x: input([2, 3, 4]) }, build: (g, { x }) => ops.transpose(x, [2, 0, 1]) },
  { name: 'Unsqueeze', ops: ['Unsqueeze'], inputs: { x: input([2, 3]) }, build: (g, { x }) => ops.unsqueeze(x, [0, -1]) },
  { name: 'Squeeze', ops: ['Squeeze'], inputs: { x: input([2, 1, 3, 1]) }, build: (g, { x }) => ops.squeeze(x, [1, 3]) },
  { name: 'Concat', ops: ['Concat'], inputs: { a: input([2, 1]), b: input([2, 3]) }, build: (g, { a, b }) => ops.concat([a, b, a], 1) },
  { name: 'Slice', ops: ['Slice'], inputs: { x: input([3, 5]) }, build: (g, { x }) => ops.slice(x, { starts: [1], ends: [-1], axes: [1] }) },
  { name: 'Slice negative step', ops: ['Slice'], inputs: { x: input([3, 5]) }, build: (g, { x }) => ops.slice(x, { starts: [-1], ends: [-6], axes: [1], steps: [-2] }) },
  { name: 'Expand', ops: ['Expand'], inputs: { x: input([3, 1]) }, build: (g, { x }) => ops.expand(x, [2, 3, 4]) },
  {
    name: 'Gather axis 1 with repeated and negative indices',
    ops: ['Gather'],
    inputs: { x: input([2, 4, 3]) },
    build: (g, { x }) => ops.gather(x, int64(g, [0, 3, -1, 0, 2, 2], [2, 3]), 1),
  },
  {
    name: 'GatherElements',
    ops: ['GatherElements'],
    inputs: { x: input([3, 4]) },
    build: (g, { x }) => ops.gatherElements(x, int64(g, [0, 3, 3, 1, 2, 2], [3, 2]), 1),
  },
  {
    name: 'ScatterElements add',
    ops: ['ScatterElements'],
    inputs: { data: input([3, 4]), updates: input([3, 2]) },
    build: (g, { data, updates }) => ops.scatterElements(data, int64(g, [0, 0, 3, 1, 2, 1], [3, 2]), updates, 1, 'add'),
  },
  {
    name: 'ScatterElements none',
    ops: ['ScatterElements'],
    inputs: { data: input([3, 4]), updates: input([3, 2]) },
    build: (g, { data, updates }) => ops.scatterElements(data, int64(g, [0, 2, 3, 1, 2, 1], [3, 2]), updates, 1),
  },
  {
    name: 'ScatterND add, depth 1',
    ops: ['ScatterND'],
    inputs: { data: input([4, 3]), updates: input([3, 3]) },
    build: (g, { data, updates }) => ops.scatterND(data, int64(g, [1, 3, 1], [3, 1]), updates, 'add'),
  },
  {
    name: 'ScatterND none, depth 2',
    ops: ['ScatterND'],
    inputs: { data: input([2, 3, 2]), updates: input([2, 2]) },
    build: (g, { data, updates }) => ops.scatterND(data, int64(g, [0, 2, 1, 1], [2, 2]), updates),
  },
  {
    name: 'TopK values',
    ops: ['TopK'],
    inputs: { x: input([3, 5], distinct([3, 5])) },
    build: (g, { x }) => ops.topk(x, 2, { axis: -1 }).values,
  },
  { name: 'ReduceSum axes', ops: ['ReduceSum'], inputs: { x: input([2, 3, 4]) }, build: (g, { x }) => ops.reduceSum(x, [0, 2]) },
  { name: 'ReduceSum all, keepdims', ops: ['ReduceSum'], inputs: { x: input([2, 3]) }, build: (g, { x }) => ops.reduceSum(x, [], true) },
  { name: 'ReduceMean', ops: ['ReduceMean'], inputs: { x: input([2, 3, 4]) }, build: (g, { x }) => ops.reduceMean(x, [1], true) },
  { name: 'ReduceMax', ops: ['ReduceMax'], inputs: { x: input([3, 4], distinct([3, 4])) }, build: (g, { x }) => ops.reduceMax(x, -1) },
  { name: 'ReduceSumSquare', ops: ['ReduceSumSquare'], inputs: { x: input([3, 4]) }, build: (g, { x }) => ops.reduceSumSquare(x, 0) },
  { name: 'Softmax', ops: ['Softmax'], inputs: { x: input([2, 5]) }, build: (g, { x }) => ops.softmax(x, -1) },
  { name: 'LogSoftmax axis 0', ops: ['LogSoftmax'], inputs: { x: input([3, 4]) }, build: (g, { x }) => ops.logSoftmax(x, 0) },
  { name: 'Trilu lower, k=1', ops: ['Trilu'], inputs: { x: input([2, 3, 3]) }, build: (g, { x }) => ops.trilu(x, { upper: false, k: 1 }) },
  {
    name: 'LayerNormalization with bias',
    ops: ['LayerNormalization'],
    inputs: { x: input([2, 3, 4]), scale: input([4]), bias: input([4]) },
    build: (g, { x, scale, bias }) => ops.layerNorm(x, scale, bias, { epsilon: 1e-5 }),
  },
  {
    name: 'LayerNormalization over two axes, no bias',
    ops: ['LayerNormalization'],
    inputs: { x: input([2, 3, 4]), scale: input([3, 4]) },
    build: (g, { x, scale }) => ops.layerNorm(x, scale, undefined, { axis: 1 }),
  },
  {
    name: 'CustomVjp uses the rule, not the forward nodes',
    ops: ['CustomVjp'],
    inputs: { x: input([4]) },
    // Forward x^2 with the true derivative; if the walker ignored the rule it would also pass.
    build: (g, { x }) =>
      ops.customVjp(
        [x],
        (v) => ops.mul(v, v),
        (graph, [v], _outputs, [dy]) => [ops.mul(dy!, ops.mul(v, 2))],
      )[0],
  },
  { name: 'geluTanh', ops: [], inputs: { x: input([6], random([6], -3, 3)) }, build: (g, { x }) => geluTanh(x) },
  { name: 'rmsNorm', ops: [], inputs: { x: input([2, 5]), scale: input([5]) }, build: (g, { x, scale }) => rmsNorm(x, scale) },
  {
    name: 'crossEntropy',
    ops: [],
    inputs: { logits: input([2, 3, 5]) },
    build: (g, { logits }) => crossEntropy(logits, int64(g, [0, 4, 2, 1, 1, 3], [2, 3])),
  },
  {
    name: 'symbolic batch: reshape, slice and mean',
    ops: ['Reshape', 'Slice', 'ReduceMean'],
    inputs: { x: input([3, 4], random([3, 4]), ['batch', 4]) },
    build: (g, { x }) => ops.reduceMean(ops.slice(ops.reshape(ops.mul(x, x), ['batch*4']), { starts: [1], ends: [Infinity], axes: [0] })),
  },
];

// Ops without gradients: comparisons, logic, shapes, integer outputs, markers.
const NON_DIFFERENTIABLE: OpName[] = ['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or', 'Not', 'Sign', 'Shape', 'Range', 'Constant', 'StopGradient'];

function lossGraph(testCase: Case) {
  const graph = new Graph();
  const inputs = Object.fromEntries(Object.entries(testCase.inputs).map(([name, spec]) => [name, graph.input(name, spec.shape, 'float64')]));
  const output = testCase.build(graph, inputs);
  const size = output.shape.reduce<number>((p, d) => p * (typeof d === 'number' ? d : 1), 1);
  const concreteShape = output.shape.map((d) => (typeof d === 'number' ? d : 1));
  const weights = graph.constant(Float64Array.from(rng.uniform(size, 0.5, 1.5), Number), concreteShape, 'float64');
  const loss = ops.reduceSum(ops.mul(output, weights));
  return { graph, inputs, loss };
}

describe('gradient rules against central finite differences (float64, reference interpreter)', () => {
  for (const testCase of cases) {
    it(testCase.name, () => {
      const { graph, inputs, loss } = lossGraph(testCase);
      const names = Object.keys(inputs);
      const gradients = grad(
        loss,
        names.map((name) => inputs[name]),
      );
      const feeds: Record<string, HostTensor> = Object.fromEntries(names.map((name) => [name, testCase.inputs[name].values]));
      const analytic = evaluateGraph(graph, gradients, feeds);
      const step = testCase.step ?? 1e-6;
      const tolerance = testCase.tolerance ?? 1e-6;
      names.forEach((name, index) => {
        const values = testCase.inputs[name].values;
        expect(analytic[index].shape).toEqual(values.shape);
        for (let i = 0; i < values.data.length; i++) {
          const perturbed = (delta: number) => {
            const data = Float64Array.from(values.data);
            data[i] += delta;
            return evaluateGraph(graph, [loss], { ...feeds, [name]: hostTensor('float64', values.shape, data) })[0].data[0] as number;
          };
          const numeric = (perturbed(step) - perturbed(-step)) / (2 * step);
          const got = Number(analytic[index].data[i]);
          expect(Math.abs(got - numeric), `${name}[${i}]: analytic ${got}, numeric ${numeric}`).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(numeric)));
        }
      });
    });
  }

  it('covers every differentiable primitive', () => {
    const tested = new Set(cases.flatMap((testCase) => testCase.ops));
    const untested = OP_NAMES.filter((op) => !tested.has(op) && !NON_DIFFERENTIABLE.includes(op));
    expect(untested).toEqual([]);
  });
});

describe('grad', () => {
  it('blocks gradients at stopGradient and gives zeros for unused inputs', () => {
    const graph = new Graph();
    const x = graph.input('x', [3], 'float64');
    const unused = graph.input('unused', [2], 'float64');
    const loss = ops.reduceSum(ops.add(ops.mul(x, x), ops.stopGradient(ops.mul(x, 10))));
    const [dx, dUnused] = grad(loss, [x, unused]);
    const [gx, gUnused] = evaluateGraph(graph, [dx, dUnused], {
      x: hostTensor('float64', [3], [1, 2, 3]),
      unused: hostTensor('float64', [2], [5, 5]),
    });
    expect(Array.from(gx.data as Float64Array)).toEqual([2, 4, 6]);
    expect(Array.from(gUnused.data as Float64Array)).toEqual([0, 0]);
  });

  it('differentiates pow at a zero base without NaN', () => {
    const graph = new Graph();
    const x = graph.input('x', [3], 'float64');
    const [dx] = grad(ops.reduceSum(ops.pow(x, 3)), [x]);
    const [g] = evaluateGraph(graph, [dx], { x: hostTensor('float64', [3], [0, 1, -2]) });
    expect(Array.from(g.data as Float64Array)).toEqual([0, 3, 12]);
  });

  it('rejects a non-scalar loss without a cotangent', () => {
    const graph = new Graph();
    const x = graph.input('x', [3]);
    expect(() => grad(x, [x])).toThrow(/reduce it to a scalar/);
  });

  it('differentiates a symbolic batch with two batch sizes', () => {
    const graph = new Graph();
    const x = graph.input('x', ['batch', 2], 'float64');
    const loss = ops.reduceMean(ops.mul(x, x));
    const [dx] = grad(loss, [x]);
    for (const rows of [1, 3]) {
      const values = Float64Array.from({ length: rows * 2 }, (_, i) => i + 1);
      const [g] = evaluateGraph(graph, [dx], { x: hostTensor('float64', [rows, 2], values) });
      Array.from(values, (v) => (2 * v) / (rows * 2)).forEach((expected, i) => expect(g.data[i]).toBeCloseTo(expected, 12));
    }
  });

  it('takes a weight gradient over batch and position as one flattened MatMul, not a batch of them summed', () => {
    const graph = new Graph();
    const a = graph.input('a', ['batch', 128, 64]);
    const w = graph.input('w', [64, 32]);
    const [dw] = grad(ops.reduceSum(ops.matmul(a, w)), [w]);
    const nodes = graph.ancestors([dw]);
    // The rows are flattened into the contraction: no [batch, 64, 32] intermediate, no reduction over batch.
    expect(nodes.flatMap((node) => node.outputs).some((tensor) => tensor.rank === 3 && tensor.shape[1] === 64)).toBe(false);
    expect(nodes.filter((node) => node.op === 'MatMul').map((node) => node.inputs.map((input) => input.shape))).toContainEqual([
      [64, '128*batch'],
      ['128*batch', 32],
    ]);
  });
});
