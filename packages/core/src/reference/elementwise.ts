import type { OpName } from '../op-set.js';
import { dense, mapBroadcast, type Kernel } from './dense.js';
import { erf } from './erf.js';

type ElementwiseOp =
  | 'Add'
  | 'Sub'
  | 'Mul'
  | 'Div'
  | 'Pow'
  | 'Max'
  | 'Min'
  | 'Equal'
  | 'Less'
  | 'LessOrEqual'
  | 'Greater'
  | 'GreaterOrEqual'
  | 'And'
  | 'Or'
  | 'Not'
  | 'Neg'
  | 'Abs'
  | 'Sign'
  | 'Sqrt'
  | 'Exp'
  | 'Log'
  | 'Tanh'
  | 'Erf'
  | 'Sigmoid'
  | 'Relu'
  | 'Where'
  | 'Cast';

function arithmetic(compute: (left: number, right: number) => number): Kernel<OpName> {
  return ([left, right], _attributes, { where }) => [mapBroadcast([left, right], left.dtype, where, compute)];
}

function comparison(compute: (left: number, right: number) => boolean): Kernel<OpName> {
  return ([left, right], _attributes, { where }) => [mapBroadcast([left, right], 'bool', where, (a, b) => Number(compute(a, b)))];
}

function unary(compute: (value: number) => number): Kernel<OpName> {
  return ([x]) => [dense(x.dtype, x.shape, x.data.map(compute))];
}

function sigmoid(value: number): number {
  // Never exponentiates a large positive number, so neither branch overflows.
  if (value >= 0) return 1 / (1 + Math.exp(-value));
  const exponential = Math.exp(value);
  return exponential / (1 + exponential);
}

export const ELEMENTWISE_KERNELS: { [O in ElementwiseOp]: Kernel<O> } = {
  Add: arithmetic((a, b) => a + b),
  Sub: arithmetic((a, b) => a - b),
  Mul: arithmetic((a, b) => a * b),
  // The evaluator truncates int64 results, which gives ONNX's C-style integer division.
  Div: arithmetic((a, b) => a / b),
  Pow: arithmetic(Math.pow),
  Max: arithmetic(Math.max),
  Min: arithmetic(Math.min),
  Equal: comparison((a, b) => a === b),
  Less: comparison((a, b) => a < b),
  LessOrEqual: comparison((a, b) => a <= b),
  Greater: comparison((a, b) => a > b),
  GreaterOrEqual: comparison((a, b) => a >= b),
  And: comparison((a, b) => a !== 0 && b !== 0),
  Or: comparison((a, b) => a !== 0 || b !== 0),
  Not: unary((value) => Number(value === 0)),
  Neg: unary((value) => -value),
  Abs: unary(Math.abs),
  Sign: unary(Math.sign),
  Sqrt: unary(Math.sqrt),
  Exp: unary(Math.exp),
  Log: unary(Math.log),
  Tanh: unary(Math.tanh),
  Erf: unary(erf),
  Sigmoid: unary(sigmoid),
  Relu: unary((value) => Math.max(0, value)),
  Where: ([condition, whenTrue, whenFalse], _attributes, { where }) => [mapBroadcast([condition, whenTrue, whenFalse], whenTrue.dtype, where, (test, a, b) => (test !== 0 ? a : b))],
  // The evaluator stores the result in `to`: truncating toward zero for int64, != 0 for bool.
  Cast: ([x], { to }) => [dense(to, x.shape, x.data)],
};
