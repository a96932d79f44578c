import type { DType } from './dtype.js';
import { GraphError } from './errors/graph-error.js';
import { ShapeError } from './errors/shape-error.js';
import type { CustomVjpRule, OpName } from './op-set.js';
import type { Dim } from './shape.js';
import { Tensor } from './tensor.js';

/** A tensor, or a number that becomes a scalar constant of the other operand's dtype. */
export type Operand = Tensor | number;

function lift(a: Operand, b: Operand, op: string): [Tensor, Tensor] {
  if (a instanceof Tensor && b instanceof Tensor) return [a, b];
  if (a instanceof Tensor) return [a, a.graph.scalar(b as number, a.dtype)];
  if (b instanceof Tensor) return [b.graph.scalar(a, b.dtype), b];
  throw new GraphError(`${op}: at least one operand must be a Tensor; got ${a} and ${b}.`);
}

function binary(op: OpName, a: Operand, b: Operand): Tensor {
  const [left, right] = lift(a, b, op);
  return left.graph.apply(op, [left, right], {})[0];
}

function unary(op: OpName, x: Tensor): Tensor {
  return x.graph.apply(op, [x], {})[0];
}

// Element-wise arithmetic (ONNX broadcasting).
export const add = (a: Operand, b: Operand): Tensor => binary('Add', a, b);
export const sub = (a: Operand, b: Operand): Tensor => binary('Sub', a, b);
export const mul = (a: Operand, b: Operand): Tensor => binary('Mul', a, b);
export const div = (a: Operand, b: Operand): Tensor => binary('Div', a, b);
export const pow = (a: Operand, b: Operand): Tensor => binary('Pow', a, b);
export const maximum = (a: Operand, b: Operand): Tensor => binary('Max', a, b);
export const minimum = (a: Operand, b: Operand): Tensor => binary('Min', a, b);

// Comparisons and logic.
export const equal = (a: Operand, b: Operand): Tensor => binary('Equal', a, b);
export const less = (a: Operand, b: Operand): Tensor => binary('Less', a, b);
export const lessOrEqual = (a: Operand, b: Operand): Tensor => binary('LessOrEqual', a, b);
export const greater = (a: Operand, b: Operand): Tensor => binary('Greater', a, b);
export const greaterOrEqual = (a: Operand, b: Operand): Tensor => binary('GreaterOrEqual', a, b);
export const and = (a: Tensor, b: Tensor): Tensor => binary('And', a, b);
export const or = (a: Tensor, b: Tensor): Tensor => binary('Or', a, b);
export const not = (x: Tensor): Tensor => unary('Not', x);

// Element-wise math.
export const neg = (x: Tensor): Tensor => unary('Neg', x);
export const abs = (x: Tensor): Tensor => unary('Abs', x);
export const sign = (x: Tensor): Tensor => unary('Sign', x);
export const sqrt = (x: Tensor): Tensor => unary('Sqrt', x);
export const exp = (x: Tensor): Tensor => unary('Exp', x);
export const log = (x: Tensor): Tensor => unary('Log', x);
export const tanh = (x: Tensor): Tensor => unary('Tanh', x);
export const erf = (x: Tensor): Tensor => unary('Erf', x);
export const sigmoid = (x: Tensor): Tensor => unary('Sigmoid', x);
export const relu = (x: Tensor): Tensor => unary('Relu', x);
export const identity = (x: Tensor): Tensor => unary('Identity', x);

export function where(condition: Tensor, x: Operand, y: Operand): Tensor {
  const [left, right] = lift(x, y, 'Where');
  return condition.graph.apply('Where', [condition, left, right], {})[0];
}

export function cast(x: Tensor, to: DType): Tensor {
  return x.graph.apply('Cast', [x], { to })[0];
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  return a.graph.apply('MatMul', [a, b], {})[0];
}

// Layout.
export function reshape(x: Tensor, shape: readonly Dim[]): Tensor {
  return x.graph.apply('Reshape', [x], { shape: [...shape] })[0];
}

/** Permutes axes; reverses them when `perm` is omitted (ONNX's default). */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  return x.graph.apply('Transpose', [x], { perm: perm ? [...perm] : x.shape.map((_, i) => x.rank - 1 - i) })[0];
}

export function unsqueeze(x: Tensor, axes: number | readonly number[]): Tensor {
  return x.graph.apply('Unsqueeze', [x], { axes: typeof axes === 'number' ? [axes] : [...axes] })[0];
}

export function squeeze(x: Tensor, axes: number | readonly number[]): Tensor {
  return x.graph.apply('Squeeze', [x], { axes: typeof axes === 'number' ? [axes] : [...axes] })[0];
}

export function concat(tensors: readonly Tensor[], axis: number): Tensor {
  if (tensors.length === 0) throw new ShapeError('concat: needs at least one tensor.');
  return tensors[0].graph.apply('Concat', tensors, { axis })[0];
}

export interface SliceSpec {
  starts: readonly Dim[];
  ends: readonly Dim[];
  axes?: readonly number[];
  steps?: readonly number[];
}

/** ONNX Slice; an end of `Infinity` means "to the end of the axis". */
export function slice(x: Tensor, spec: SliceSpec): Tensor {
  const axes = spec.axes ? [...spec.axes] : spec.starts.map((_, i) => i);
  const ends = spec.ends.map((end) => (end === Infinity ? Number.MAX_SAFE_INTEGER : end));
  return x.graph.apply('Slice', [x], { starts: [...spec.starts], ends, axes, steps: spec.steps ? [...spec.steps] : axes.map(() => 1) })[0];
}

export function expand(x: Tensor, shape: readonly Dim[]): Tensor {
  return x.graph.apply('Expand', [x], { shape: [...shape] })[0];
}

/** The runtime shape (int64 [n]) of x, optionally axes [start, end). */
export function shapeOf(x: Tensor, start = 0, end?: number): Tensor {
  return x.graph.apply('Shape', [x], end === undefined ? { start } : { start, end })[0];
}

/**
 * ONNX Range: start, start + delta, ... below limit. Number bounds make a
 * static length; tensor bounds need `length`, the output size's name.
 */
export function range(start: Operand, limit: Operand, delta: Operand, options: { dtype?: DType; length?: Dim; graph?: Tensor['graph'] } = {}): Tensor {
  const anchor = [start, limit, delta].find((bound): bound is Tensor => bound instanceof Tensor);
  const graph = anchor?.graph ?? options.graph;
  if (!graph) throw new GraphError('range: with only number bounds, pass options.graph.');
  const dtype = anchor?.dtype ?? options.dtype ?? 'int64';
  const bounds = [start, limit, delta].map((bound) => (bound instanceof Tensor ? bound : graph.scalar(bound, dtype)));
  let length = options.length;
  if (length === undefined) {
    if (typeof start !== 'number' || typeof limit !== 'number' || typeof delta !== 'number') {
      throw new GraphError('range: tensor bounds need options.length (the output size, possibly symbolic).');
    }
    length = Math.max(0, Math.ceil((limit - start) / delta));
  }
  return graph.apply('Range', bounds, { length })[0];
}

// Indexing.
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  return x.graph.apply('Gather', [x, indices], { axis })[0];
}

export function gatherElements(x: Tensor, indices: Tensor, axis: number): Tensor {
  return x.graph.apply('GatherElements', [x, indices], { axis })[0];
}

export function scatterElements(x: Tensor, indices: Tensor, updates: Tensor, axis: number, reduction: 'none' | 'add' = 'none'): Tensor {
  return x.graph.apply('ScatterElements', [x, indices, updates], { axis, reduction })[0];
}

export function scatterND(x: Tensor, indices: Tensor, updates: Tensor, reduction: 'none' | 'add' = 'none'): Tensor {
  return x.graph.apply('ScatterND', [x, indices, updates], { reduction })[0];
}

export interface TopKOptions {
  axis?: number;
  largest?: boolean;
  sorted?: boolean;
  /** Name for the output size along `axis` when k is a tensor (e.g. `'k*batch'`). */
  kDim?: Dim;
}

/** ONNX TopK: the k largest (or smallest) along an axis, ties broken by lower index. */
export function topk(x: Tensor, k: number | Tensor, options: TopKOptions = {}): { values: Tensor; indices: Tensor } {
  const kTensor = typeof k === 'number' ? x.graph.constant([k], [1], 'int64') : k;
  const kDim = options.kDim ?? (typeof k === 'number' ? k : `topk${x.graph.nodes.length}`);
  const [values, indices] = x.graph.apply('TopK', [x, kTensor], {
    axis: options.axis ?? -1,
    largest: options.largest ?? true,
    sorted: options.sorted ?? true,
    kDim,
  });
  return { values, indices };
}

// Reductions; `axes` omitted or empty reduces every axis.
function reduction(op: 'ReduceSum' | 'ReduceMean' | 'ReduceMax' | 'ReduceSumSquare') {
  return (x: Tensor, axes: number | readonly number[] = [], keepdims = false): Tensor => x.graph.apply(op, [x], { axes: typeof axes === 'number' ? [axes] : [...axes], keepdims })[0];
}
export const reduceSum = reduction('ReduceSum');
export const reduceMean = reduction('ReduceMean');
export const reduceMax = reduction('ReduceMax');
export const reduceSumSquare = reduction('ReduceSumSquare');

export const softmax = (x: Tensor, axis = -1): Tensor => x.graph.apply('Softmax', [x], { axis })[0];
export const logSoftmax = (x: Tensor, axis = -1): Tensor => x.graph.apply('LogSoftmax', [x], { axis })[0];

export function trilu(x: Tensor, options: { upper?: boolean; k?: number } = {}): Tensor {
  return x.graph.apply('Trilu', [x], { upper: options.upper ?? true, k: options.k ?? 0 })[0];
}

/** ONNX LayerNormalization over axes [axis, rank) with biased variance. */
export function layerNorm(x: Tensor, scale: Tensor, bias?: Tensor, options: { axis?: number; epsilon?: number } = {}): Tensor {
  const inputs = bias ? [x, scale, bias] : [x, scale];
  return x.graph.apply('LayerNormalization', inputs, { axis: options.axis ?? -1, epsilon: options.epsilon ?? 1e-5 })[0];
}

// Autodiff markers.
/** Identity in the forward pass; blocks gradients. */
export const stopGradient = (x: Tensor): Tensor => unary('StopGradient', x);

/**
 * Runs `forward` on the primals and makes autodiff use `rule` for the result
 * instead of differentiating the nodes `forward` built: straight-through
 * estimators and hand-written fast gradients.
 */
export function customVjp(primals: readonly Tensor[], forward: (...primals: Tensor[]) => Tensor | readonly Tensor[], rule: CustomVjpRule): Tensor[] {
  if (primals.length === 0) throw new GraphError('customVjp: needs at least one primal input.');
  const result = forward(...primals);
  const outputs = result instanceof Tensor ? [result] : [...result];
  return primals[0].graph.apply('CustomVjp', [...primals, ...outputs], { rule, primalCount: primals.length });
}
