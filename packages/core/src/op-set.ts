import type { DType, HostTensor } from './dtype.js';
import type { Dim } from './shape.js';
import type { Graph } from './graph.js';
import type { Tensor } from './tensor.js';

/**
 * The closed set of IR primitives. Each has exactly the semantics of the ONNX
 * operator of the same name (opset 18), so compiling to ONNX is a 1:1 map and
 * every other backend follows a published spec. Attributes that ONNX passes
 * as constant inputs (Reshape's shape, Slice's bounds, reduction axes) are
 * attributes here, and may name symbolic dimensions.
 */
export interface OpAttributes {
  // Element-wise arithmetic, broadcasting.
  Add: {};
  Sub: {};
  Mul: {};
  Div: {};
  Pow: {};
  Max: {};
  Min: {};
  // Comparisons and logic, broadcasting, bool results.
  Equal: {};
  Less: {};
  LessOrEqual: {};
  Greater: {};
  GreaterOrEqual: {};
  And: {};
  Or: {};
  Not: {};
  // Element-wise math.
  Neg: {};
  Abs: {};
  Sign: {};
  Sqrt: {};
  Exp: {};
  Log: {};
  Tanh: {};
  Erf: {};
  Sigmoid: {};
  Relu: {};
  Identity: {};
  Where: {};
  Cast: { to: DType };
  // Linear algebra.
  MatMul: {};
  // Layout.
  Reshape: { shape: Dim[] };
  Transpose: { perm: number[] };
  Unsqueeze: { axes: number[] };
  Squeeze: { axes: number[] };
  Concat: { axis: number };
  Slice: { starts: Dim[]; ends: Dim[]; axes: number[]; steps: number[] };
  Expand: { shape: Dim[] };
  Shape: { start: number; end?: number };
  /** Inputs: scalar start, limit, delta. `length` names the output size. */
  Range: { length: Dim };
  // Indexing.
  Gather: { axis: number };
  GatherElements: { axis: number };
  ScatterElements: { axis: number; reduction: 'none' | 'add' };
  ScatterND: { reduction: 'none' | 'add' };
  /** Inputs: x and k (int64 [1]). `kDim` names the output size along `axis`. */
  TopK: { axis: number; largest: boolean; sorted: boolean; kDim: Dim };
  // Reductions.
  ReduceSum: { axes: number[]; keepdims: boolean };
  ReduceMean: { axes: number[]; keepdims: boolean };
  ReduceMax: { axes: number[]; keepdims: boolean };
  ReduceSumSquare: { axes: number[]; keepdims: boolean };
  // Normalisation and masks.
  Softmax: { axis: number };
  LogSoftmax: { axis: number };
  Trilu: { upper: boolean; k: number };
  /** Inputs: x, scale and optionally bias; normalises over axes [axis, rank). */
  LayerNormalization: { axis: number; epsilon: number };
  Constant: { value: HostTensor };
  // Autodiff markers: both run as Identity.
  StopGradient: {};
  CustomVjp: { rule: CustomVjpRule; primalCount: number };
}

export type OpName = keyof OpAttributes;

/**
 * A hand-written vector-Jacobian product. Given the primal inputs, the
 * forward outputs and one cotangent per output (undefined where none flows),
 * returns one gradient per primal input (undefined for none).
 */
export type CustomVjpRule = (graph: Graph, primals: readonly Tensor[], outputs: readonly Tensor[], cotangents: readonly (Tensor | undefined)[]) => (Tensor | undefined)[];

export const ELEMENTWISE_BINARY: readonly OpName[] = ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min'];
export const COMPARISONS: readonly OpName[] = ['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or'];
export const ELEMENTWISE_UNARY: readonly OpName[] = ['Neg', 'Abs', 'Sign', 'Sqrt', 'Exp', 'Log', 'Tanh', 'Erf', 'Sigmoid', 'Relu', 'Identity', 'Not', 'StopGradient'];
export const REDUCTIONS: readonly OpName[] = ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceSumSquare'];

export const OP_NAMES: readonly OpName[] = [
  ...ELEMENTWISE_BINARY,
  ...COMPARISONS,
  ...ELEMENTWISE_UNARY,
  'Where',
  'Cast',
  'MatMul',
  'Reshape',
  'Transpose',
  'Unsqueeze',
  'Squeeze',
  'Concat',
  'Slice',
  'Expand',
  'Shape',
  'Range',
  'Gather',
  'GatherElements',
  'ScatterElements',
  'ScatterND',
  'TopK',
  ...REDUCTIONS,
  'Softmax',
  'LogSoftmax',
  'Trilu',
  'LayerNormalization',
  'Constant',
  'CustomVjp',
];
