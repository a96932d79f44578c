/**
 * Test support: one or more small graphs per IR op, with inputs that
 * exercise the op's edge cases (broadcasting, negative axes and indices,
 * symbolic 'batch' dimensions fed with several sizes). Shared by the
 * compiler acceptance test and the differential test against the reference
 * interpreter.
 */
import {
  Graph,
  Rng,
  abs,
  add,
  and,
  cast,
  concat,
  customVjp,
  div,
  equal,
  erf,
  exp,
  expand,
  gather,
  gatherElements,
  greater,
  greaterOrEqual,
  hostTensor,
  identity,
  layerNorm,
  less,
  lessOrEqual,
  log,
  logSoftmax,
  matmul,
  maximum,
  minimum,
  mul,
  mulDims,
  neg,
  not,
  or,
  pow,
  range,
  reduceMax,
  reduceMean,
  reduceSum,
  reduceSumSquare,
  relu,
  reshape,
  scatterElements,
  scatterND,
  shapeOf,
  sigmoid,
  sign,
  slice,
  softmax,
  sqrt,
  squeeze,
  stopGradient,
  sub,
  tanh,
  topk,
  transpose,
  trilu,
  unsqueeze,
  where,
  sizeOf,
  type DType,
  type Dim,
  type HostTensor,
  type OpName,
  type Tensor,
} from '@nnd/core';

export type Values = (size: number, rng: Rng, shape: readonly number[]) => ArrayLike<number | bigint | boolean>;

export interface InputSpec {
  readonly shape: readonly Dim[];
  readonly dtype?: DType;
  /** Defaults: normal floats, integers in [-9, 9], random bools. */
  readonly values?: Values;
}

export interface OpCase {
  readonly op: OpName;
  readonly label: string;
  readonly inputs: Readonly<Record<string, InputSpec>>;
  readonly build: (inputs: Record<string, Tensor>, graph: Graph) => Record<string, Tensor>;
  /** Float tolerance when it differs from the dtype's default. */
  readonly tolerance?: Tolerance;
}

export interface Tolerance {
  readonly relative: number;
  /** Scaled by the largest expected magnitude (at least 1). */
  readonly absolute: number;
}

export const TOLERANCES: Readonly<Record<'float32' | 'float64', Tolerance>> = {
  float32: { relative: 1e-5, absolute: 1e-6 },
  float64: { relative: 1e-12, absolute: 1e-13 },
};

/** Every symbolic dimension of the cases is one of these, fed with each size in turn. */
export const SYMBOL_SIZES: readonly Readonly<Record<string, number>>[] = [
  { batch: 1, seq: 2 },
  { batch: 3, seq: 4 },
];

// Value generators.
export const normal: Values = (size, rng) => rng.normal(size);
export const positive: Values = (size, rng) => rng.uniform(size, 0.5, 2);
export const integers =
  (low: number, high: number): Values =>
  (size, rng) =>
    Array.from({ length: size }, () => low + rng.int(high - low + 1));
const nonzeroIntegers: Values = (size, rng) => Array.from({ length: size }, () => (1 + rng.int(9)) * (rng.int(2) === 0 ? -1 : 1));
export const bools: Values = (size, rng) => Array.from({ length: size }, () => rng.int(2));
/** Floats that are small integers, so comparisons see equal pairs and casts see zeros. */
const smallFloats: Values = (size, rng) => Array.from({ length: size }, () => rng.int(5) - 2);
/** Distinct values (no ties), exact in float32. */
export const distinct: Values = (size, rng) => Array.from(rng.permutation(size), (value) => value / 4 - size / 8);
/** Indices in [low, high) along some axis. */
const indices = (low: number, high: number): Values => integers(low, high - 1);
/** Along the second-to-last axis, distinct indices into an axis of `size`: no two updates hit one element. */
const distinctRows =
  (size: number): Values =>
  (_count, rng, shape) => {
    const [rows, columns] = shape.slice(-2);
    const outer = sizeOf(shape.slice(0, -2));
    const result = new Array<number>(sizeOf(shape));
    for (let block = 0; block < outer; block++) {
      for (let column = 0; column < columns; column++) {
        const picks = rng.permutation(size);
        for (let row = 0; row < rows; row++) result[(block * rows + row) * columns + column] = picks[row];
      }
    }
    return result;
  };
const permutationPrefix =
  (size: number): Values =>
  (count, rng) =>
    Array.from(rng.permutation(size).slice(0, count));

const x34: InputSpec = { shape: ['batch', 3, 4] };
const int3: InputSpec = { shape: ['batch', 3], dtype: 'int64' };
const one = (op: OpName, label: string, inputs: OpCase['inputs'], build: (inputs: Record<string, Tensor>, graph: Graph) => Tensor | Record<string, Tensor>): OpCase => ({
  op,
  label,
  inputs,
  build: (values, graph) => {
    const built = build(values, graph);
    return isTensor(built) ? { out: built } : built;
  },
});
const isTensor = (value: unknown): value is Tensor => typeof (value as Tensor).rank === 'number';

const binaryCases: OpCase[] = [
  ...(['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min'] as const).map((op) =>
    one(op, `${op} float32 broadcast`, { x: x34, y: { shape: [4], values: op === 'Div' ? positive : normal } }, ({ x, y }) => binary(op, x, y)),
  ),
  one('Pow', 'Pow float32', { x: { shape: ['batch', 3, 4], values: positive }, y: { shape: [4], values: (size, rng) => rng.uniform(size, -2, 2) } }, ({ x, y }) => pow(x, y)),
  one('Pow', 'Pow by a scalar', { x: { shape: ['batch', 3], values: positive } }, ({ x }) => pow(x, 3)),
  ...(['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min'] as const).map((op) => one(op, `${op} int64`, { x: int3, y: { shape: [3], dtype: 'int64', values: nonzeroIntegers } }, ({ x, y }) => binary(op, x, y))),
  one('Add', 'Add float64', { x: { shape: ['batch', 3], dtype: 'float64' }, y: { shape: [3], dtype: 'float64' } }, ({ x, y }) => add(x, y)),
  one('Mul', 'Mul by a scalar', { x: x34 }, ({ x }) => mul(x, 0.5)),
];

const comparisonCases: OpCase[] = [
  ...(['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual'] as const).flatMap((op) => [
    one(op, `${op} float32`, { x: { shape: ['batch', 3, 4], values: smallFloats }, y: { shape: [3, 4], values: smallFloats } }, ({ x, y }) => compare(op, x, y)),
    one(op, `${op} int64`, { x: { shape: ['batch', 3], dtype: 'int64', values: integers(-2, 2) }, y: { shape: [3], dtype: 'int64', values: integers(-2, 2) } }, ({ x, y }) => compare(op, x, y)),
  ]),
  one('And', 'And', { x: { shape: ['batch', 4], dtype: 'bool' }, y: { shape: [4], dtype: 'bool' } }, ({ x, y }) => and(x, y)),
  one('Or', 'Or', { x: { shape: ['batch', 4], dtype: 'bool' }, y: { shape: [4], dtype: 'bool' } }, ({ x, y }) => or(x, y)),
  one('Not', 'Not', { x: { shape: ['batch', 4], dtype: 'bool' } }, ({ x }) => not(x)),
];

const UNARY = { Neg: neg, Abs: abs, Sign: sign, Sqrt: sqrt, Exp: exp, Log: log, Tanh: tanh, Erf: erf, Sigmoid: sigmoid, Relu: relu, Identity: identity, StopGradient: stopGradient } as const;
const unaryCases: OpCase[] = [
  ...Object.entries(UNARY).map(([op, apply]) =>
    one(op as OpName, `${op} float32`, { x: { shape: ['batch', 3, 4], values: op === 'Sqrt' || op === 'Log' ? positive : smallOrNormal(op) } }, ({ x }) => apply(x)),
  ),
  ...(['Neg', 'Abs', 'Sign', 'Identity'] as const).map((op) => one(op, `${op} int64`, { x: int3 }, ({ x }) => UNARY[op](x))),
  ...(['Exp', 'Tanh', 'Erf'] as const).map((op) => ({
    ...one(op, `${op} float64`, { x: { shape: ['batch', 3], dtype: 'float64' } }, ({ x }) => UNARY[op](x)),
    // The compiler evaluates float64 Erf in float32 (onnxruntime has no float64 kernel).
    ...(op === 'Erf' ? { tolerance: TOLERANCES.float32 } : {}),
  })),
];

function smallOrNormal(op: string): Values {
  // Sign and Relu at exactly zero are their interesting case.
  return op === 'Sign' || op === 'Relu' ? smallFloats : normal;
}

const CAST_PAIRS: [DType, DType, Values?][] = [
  ['float32', 'int64', (size, rng) => rng.uniform(size, -20, 20)],
  ['float32', 'bool', smallFloats],
  ['int64', 'float32'],
  ['bool', 'float32'],
  ['float32', 'float64'],
  ['float64', 'float32'],
  ['bool', 'int64'],
  ['int64', 'bool', integers(-1, 1)],
];

const layoutCases: OpCase[] = [
  one('Where', 'Where broadcast', { c: { shape: ['batch', 1, 4], dtype: 'bool' }, x: x34, y: { shape: [4] } }, ({ c, x, y }) => where(c, x, y)),
  one('Where', 'Where bool', { c: { shape: ['batch', 4], dtype: 'bool' }, x: { shape: ['batch', 4], dtype: 'bool' }, y: { shape: [4], dtype: 'bool' } }, ({ c, x, y }) => where(c, x, y)),
  one('Where', 'Where int64 with a scalar', { c: { shape: ['batch', 3], dtype: 'bool' }, x: int3 }, ({ c, x }) => where(c, x, -1)),
  ...CAST_PAIRS.map(([from, to, values]) => one('Cast', `Cast ${from} to ${to}`, { x: { shape: ['batch', 3], dtype: from, values } }, ({ x }) => cast(x, to))),
  one('MatMul', 'MatMul batched by a matrix', { x: x34, w: { shape: [4, 5] } }, ({ x, w }) => matmul(x, w)),
  one('MatMul', 'MatMul vector by batched', { v: { shape: [4] }, x: { shape: ['batch', 4, 2] } }, ({ v, x }) => matmul(v, x)),
  one('MatMul', 'MatMul batched by a vector', { x: x34, v: { shape: [4] } }, ({ x, v }) => matmul(x, v)),
  one('MatMul', 'MatMul broadcast batches', { x: { shape: [2, 'batch', 3, 4] }, w: { shape: ['batch', 4, 2] } }, ({ x, w }) => matmul(x, w)),
  one('MatMul', 'MatMul float64', { x: { shape: ['batch', 3], dtype: 'float64' }, w: { shape: [3, 2], dtype: 'float64' } }, ({ x, w }) => matmul(x, w)),
  one('Reshape', 'Reshape merging static axes', { x: x34 }, ({ x }) => reshape(x, ['batch', 12])),
  one('Reshape', 'Reshape with -1', { x: x34 }, ({ x }) => reshape(x, [-1, 2])),
  one('Reshape', 'Reshape to 3*batch', { x: x34 }, ({ x }) => reshape(x, [mulDims('batch', 3), 4])),
  one('Reshape', 'Reshape to batch*seq and back', { x: { shape: ['batch', 'seq', 4] } }, ({ x }) => {
    const flat = reshape(x, ['batch*seq', 4]);
    return { flat, back: reshape(mul(flat, 2), ['batch', 'seq', 2, 2]) };
  }),
  one('Reshape', 'Reshape int64', { x: int3 }, ({ x }) => reshape(x, [-1])),
  one('Transpose', 'Transpose perm', { x: x34 }, ({ x }) => transpose(x, [2, 0, 1])),
  one('Transpose', 'Transpose reversed', { x: { shape: ['batch', 3], dtype: 'bool' } }, ({ x }) => transpose(x)),
  one('Unsqueeze', 'Unsqueeze two axes', { x: { shape: ['batch', 3] } }, ({ x }) => unsqueeze(x, [0, 3])),
  one('Unsqueeze', 'Unsqueeze last', { x: int3 }, ({ x }) => unsqueeze(x, -1)),
  one('Squeeze', 'Squeeze', { x: { shape: ['batch', 1, 4, 1] } }, ({ x }) => squeeze(x, [1, -1])),
  one('Concat', 'Concat axis 1', { x: { shape: ['batch', 2, 4] }, y: { shape: ['batch', 3, 4] } }, ({ x, y }) => concat([x, y, x], 1)),
  one('Concat', 'Concat along batch', { x: { shape: ['batch', 2], dtype: 'int64' }, y: { shape: [3, 2], dtype: 'int64' } }, ({ x, y }) => concat([x, y], 0)),
  one('Slice', 'Slice with steps', { x: { shape: ['batch', 6, 4] } }, ({ x }) => slice(x, { starts: [1, 0], ends: [5, Infinity], axes: [1, 2], steps: [2, 1] })),
  one('Slice', 'Slice reversed', { x: { shape: ['batch', 5] } }, ({ x }) => slice(x, { starts: [-1], ends: [Number.MIN_SAFE_INTEGER], axes: [1], steps: [-1] })),
  one('Slice', 'Slice to a symbolic end', { x: { shape: ['batch', 4] }, table: { shape: [6, 4] } }, ({ x, table }) => add(slice(table, { starts: [0], ends: ['batch'], axes: [0] }), x)),
  one('Slice', 'Slice dropping the last of a symbolic axis', { x: { shape: ['seq', 3] } }, ({ x }) => slice(x, { starts: [0], ends: [-1], axes: [0] })),
  one('Expand', 'Expand to a symbolic shape', { x: x34, y: { shape: [1, 4] } }, ({ x, y }) => add(expand(y, ['batch', 3, 4]), x)),
  one('Expand', 'Expand static', { y: { shape: [3, 1], dtype: 'int64' } }, ({ y }) => expand(y, [2, 3, 4])),
  one('Range', 'Range static', {}, (_inputs, graph) => range(1, 10, 3, { graph })),
  one('Range', 'Range float32 descending', {}, (_inputs, graph) => range(2, -1, -0.5, { graph, dtype: 'float32' })),
  one('Range', 'Range to a symbolic length', { x: int3 }, ({ x }) => range(0, squeeze(shapeOf(x, 0, 1), 0), 1, { length: 'batch' })),
  one('Shape', 'Shape', { x: x34 }, ({ x }) => ({ all: shapeOf(x), tail: shapeOf(x, 1), head: shapeOf(x, 0, 1) })),
];

const indexingCases: OpCase[] = [
  one('Gather', 'Gather rows by symbolic indices', { table: { shape: [6, 4] }, i: { shape: ['batch', 3], dtype: 'int64', values: indices(-6, 6) } }, ({ table, i }) => gather(table, i, 0)),
  one('Gather', 'Gather along axis 1', { x: { shape: ['batch', 5, 3] }, i: { shape: [2], dtype: 'int64', values: indices(0, 5) } }, ({ x, i }) => gather(x, i, 1)),
  one('Gather', 'Gather a scalar index', { x: { shape: ['batch', 5], dtype: 'int64' } }, ({ x }, graph) => gather(x, graph.constant([-2], [], 'int64'), 1)),
  one('GatherElements', 'GatherElements axis 1', { x: { shape: ['batch', 4, 3] }, i: { shape: ['batch', 2, 3], dtype: 'int64', values: indices(-4, 4) } }, ({ x, i }) => gatherElements(x, i, 1)),
  one('GatherElements', 'GatherElements last axis', { x: { shape: ['batch', 5] }, i: { shape: ['batch', 1], dtype: 'int64', values: indices(0, 5) } }, ({ x, i }) => gatherElements(x, i, -1)),
  one(
    'ScatterElements',
    'ScatterElements none',
    {
      x: { shape: ['batch', 4, 3] },
      i: { shape: ['batch', 2, 3], dtype: 'int64', values: distinctRows(4) },
      u: { shape: ['batch', 2, 3] },
    },
    ({ x, i, u }) => scatterElements(x, i, u, 1),
  ),
  one(
    'ScatterElements',
    'ScatterElements add with repeats',
    {
      x: { shape: ['batch', 4, 3] },
      i: { shape: ['batch', 5, 3], dtype: 'int64', values: indices(0, 4) },
      u: { shape: ['batch', 5, 3] },
    },
    ({ x, i, u }) => scatterElements(x, i, u, 1, 'add'),
  ),
  one(
    'ScatterND',
    'ScatterND add of symbolic rows',
    {
      x: { shape: [6, 4] },
      i: { shape: ['batch', 1], dtype: 'int64', values: indices(0, 6) },
      u: { shape: ['batch', 4] },
    },
    ({ x, i, u }) => scatterND(x, i, u, 'add'),
  ),
  one(
    'ScatterND',
    'ScatterND add with repeats',
    {
      x: { shape: [3, 2] },
      i: { shape: [7, 1], dtype: 'int64', values: indices(0, 3) },
      u: { shape: [7, 2] },
    },
    ({ x, i, u }) => scatterND(x, i, u, 'add'),
  ),
  one(
    'ScatterND',
    'ScatterND none of elements',
    {
      x: { shape: [5, 2], dtype: 'int64' },
      i: { shape: [3, 1], dtype: 'int64', values: permutationPrefix(5) },
      u: { shape: [3, 2], dtype: 'int64' },
    },
    ({ x, i, u }) => scatterND(x, i, u),
  ),
  one('TopK', 'TopK largest', { x: { shape: ['batch', 8], values: distinct } }, ({ x }) => pair(topk(x, 3))),
  one('TopK', 'TopK smallest along axis 0', { x: { shape: [6, 'batch'], values: distinct } }, ({ x }) => pair(topk(x, 2, { axis: 0, largest: false }))),
  one('TopK', 'TopK int64', { x: { shape: ['batch', 6], dtype: 'int64', values: (size, rng) => Array.from(rng.permutation(size)) } }, ({ x }) => pair(topk(x, 4))),
  one('TopK', 'TopK ties keep the lower index', { x: { shape: ['batch', 6], values: integers(0, 2) } }, ({ x }) => pair(topk(x, 4))),
];

const REDUCE = { ReduceSum: reduceSum, ReduceMean: reduceMean, ReduceMax: reduceMax, ReduceSumSquare: reduceSumSquare } as const;
const reductionCases: OpCase[] = [
  ...Object.entries(REDUCE).flatMap(([op, reduce]) => [
    one(op as OpName, `${op} axis 1`, { x: x34 }, ({ x }) => reduce(x, 1)),
    one(op as OpName, `${op} keepdims over the batch`, { x: x34 }, ({ x }) => reduce(x, [0, -1], true)),
    one(op as OpName, `${op} all axes`, { x: x34 }, ({ x }) => reduce(x)),
  ]),
  one('ReduceSum', 'ReduceSum int64', { x: int3 }, ({ x }) => reduceSum(x, -1)),
  one('ReduceMax', 'ReduceMax int64', { x: int3 }, ({ x }) => reduceMax(x, 0, true)),
  one('ReduceMean', 'ReduceMean float64', { x: { shape: ['batch', 3], dtype: 'float64' } }, ({ x }) => reduceMean(x, 1)),
];

const normalizationCases: OpCase[] = [
  one('Softmax', 'Softmax last axis', { x: x34 }, ({ x }) => softmax(x)),
  one('Softmax', 'Softmax axis 1', { x: x34 }, ({ x }) => softmax(x, 1)),
  one('Softmax', 'Softmax float64', { x: { shape: ['batch', 5], dtype: 'float64' } }, ({ x }) => softmax(x)),
  one('LogSoftmax', 'LogSoftmax last axis', { x: x34 }, ({ x }) => logSoftmax(x)),
  one('LogSoftmax', 'LogSoftmax axis 0', { x: x34 }, ({ x }) => logSoftmax(x, 0)),
  one('Trilu', 'Trilu upper', { x: { shape: ['batch', 4, 5] } }, ({ x }) => trilu(x)),
  one('Trilu', 'Trilu lower k 1', { x: { shape: ['batch', 4, 5] } }, ({ x }) => trilu(x, { upper: false, k: 1 })),
  one('Trilu', 'Trilu upper k -1 int64', { x: { shape: [4, 3], dtype: 'int64' } }, ({ x }) => trilu(x, { k: -1 })),
  one('LayerNormalization', 'LayerNormalization last axis', { x: { shape: ['batch', 3, 8] }, s: { shape: [8] }, b: { shape: [8] } }, ({ x, s, b }) => layerNorm(x, s, b)),
  one('LayerNormalization', 'LayerNormalization two axes, no bias', { x: { shape: ['batch', 3, 8] }, s: { shape: [3, 8] } }, ({ x, s }) => layerNorm(x, s, undefined, { axis: 1, epsilon: 1e-3 })),
  one('LayerNormalization', 'LayerNormalization float64', { x: { shape: ['batch', 6], dtype: 'float64' }, s: { shape: [6], dtype: 'float64' } }, ({ x, s }) => layerNorm(x, s)),
];

const otherCases: OpCase[] = [
  one('Constant', 'Constants as outputs', {}, (_inputs, graph) => ({
    f: graph.constant([1.5, -2, 3, 0.25, 5, 6], [2, 3]),
    i: graph.constant([7, -8], [2], 'int64'),
    b: graph.constant([1, 0, 1], [3], 'bool'),
    s: graph.scalar(2.5, 'float64'),
  })),
  one('Constant', 'Constant used by an op', { x: x34 }, ({ x }, graph) => add(x, graph.constant([1, 2, 3, 4], [4]))),
  one('CustomVjp', 'CustomVjp outputs', { x: x34, y: { shape: [4] } }, ({ x, y }) => {
    const [product, total] = customVjp(
      [x, y],
      (a, b) => [mul(a, b), add(a, b)],
      (_graph, primals) => primals.map(() => undefined),
    );
    return { product, total };
  }),
];

export const OP_CASES: readonly OpCase[] = [...binaryCases, ...comparisonCases, ...unaryCases, ...layoutCases, ...indexingCases, ...reductionCases, ...normalizationCases, ...otherCases];

function binary(op: 'Add' | 'Sub' | 'Mul' | 'Div' | 'Max' | 'Min', x: Tensor, y: Tensor): Tensor {
  return { Add: add, Sub: sub, Mul: mul, Div: div, Max: maximum, Min: minimum }[op](x, y);
}

function compare(op: 'Equal' | 'Less' | 'LessOrEqual' | 'Greater' | 'GreaterOrEqual', x: Tensor, y: Tensor): Tensor {
  return { Equal: equal, Less: less, LessOrEqual: lessOrEqual, Greater: greater, GreaterOrEqual: greaterOrEqual }[op](x, y);
}

function pair({ values, indices: positions }: { values: Tensor; indices: Tensor }): Record<string, Tensor> {
  return { values, indices: positions };
}

/** Builds a case's graph; inputs are declared in the order listed. */
export function buildCase(opCase: OpCase): { graph: Graph; outputs: Record<string, Tensor> } {
  const graph = new Graph();
  const inputs = Object.fromEntries(Object.entries(opCase.inputs).map(([name, spec]) => [name, graph.input(name, spec.shape, spec.dtype ?? 'float32')]));
  return { graph, outputs: opCase.build(inputs, graph) };
}

/** Random feeds for a case with symbols bound to `sizes`, reproducible from `seed`. */
export function feedsFor(opCase: OpCase, sizes: Readonly<Record<string, number>>, seed: number): Record<string, HostTensor> {
  const rng = new Rng(seed);
  return Object.fromEntries(
    Object.entries(opCase.inputs).map(([name, spec]) => {
      const dtype = spec.dtype ?? 'float32';
      const shape = spec.shape.map((dim) => (typeof dim === 'number' ? dim : sizes[dim]));
      const values = spec.values ?? (dtype === 'bool' ? bools : dtype === 'int64' ? integers(-9, 9) : normal);
      return [name, hostTensor(dtype, shape, values(sizeOf(shape), rng, shape))];
    }),
  );
}

/** Asserts that a backend's result equals the reference's: exact for int64 and bool, within tolerance for floats. */
export function expectMatches(actual: HostTensor, expected: HostTensor, label: string, tolerance?: Tolerance): void {
  const where = `${label}: got ${actual.dtype} [${actual.shape.join(', ')}], expected ${expected.dtype} [${expected.shape.join(', ')}]`;
  if (actual.dtype !== expected.dtype || actual.shape.join() !== expected.shape.join()) throw new Error(where);
  if (expected.dtype === 'int64' || expected.dtype === 'bool') {
    const [got, want] = [Array.from(actual.data, String), Array.from(expected.data, String)];
    if (got.join() !== want.join()) throw new Error(`${where}\n  got      ${got.join(', ')}\n  expected ${want.join(', ')}`);
    return;
  }
  const { relative, absolute } = tolerance ?? TOLERANCES[expected.dtype];
  const scale = Math.max(1, ...Array.from(expected.data as Float64Array, Math.abs));
  (expected.data as Float64Array).forEach((want, index) => {
    const got = Number(actual.data[index]);
    if (Number.isNaN(want) && Number.isNaN(got)) return;
    if (!(Math.abs(got - want) <= absolute * scale + relative * Math.abs(want))) {
      throw new Error(
        `${where}\n  element ${index}: got ${got}, expected ${want}\n  got      ${Array.from(actual.data as Float32Array).join(', ')}\n  expected ${Array.from(expected.data as Float64Array).join(', ')}`,
      );
    }
  });
}
