import { broadcastShapes } from '@nnd/core';
import type { TfTensor, Tfjs } from '../tfjs-runtime.js';
import { broadcast } from './fast-paths.js';
import type { KernelTable } from './kernel.js';

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
  | 'Identity'
  | 'StopGradient'
  | 'Where'
  | 'Cast';

/**
 * ONNX integer division truncates toward zero (C semantics); tfjs's `div` on
 * int32 floors (-7 / 2 = -4, ONNX says -3). |a| floor-divided by |b| is the
 * truncated magnitude; the signs' product restores the sign.
 */
export function truncatingDivide(tf: Tfjs, numerator: TfTensor, denominator: TfTensor): TfTensor {
  return tf.mul(tf.mul(tf.sign(numerator), tf.sign(denominator)), tf.floorDiv(tf.abs(numerator), tf.abs(denominator)));
}

/**
 * Where for any dtype. tfjs-wasm's Select kernel returns wrong values for
 * bool branches (measured with tfjs 4.22), so bool goes through logic ops:
 * (c and x) or (not c and y), which broadcast the same way.
 */
export function select(tf: Tfjs, condition: TfTensor, whenTrue: TfTensor, whenFalse: TfTensor): TfTensor {
  if (whenTrue.dtype === 'bool') {
    return tf.logicalOr(tf.logicalAnd(condition, whenTrue), tf.logicalAnd(tf.logicalNot(condition), whenFalse));
  }
  // tfjs broadcasts Where's operands with Tile, which is slow on wasm; broadcast them first.
  const shape = broadcastShapes([condition.shape, whenTrue.shape, whenFalse.shape], 'Where') as number[];
  return tf.where(broadcast(tf, condition, shape), broadcast(tf, whenTrue, shape), broadcast(tf, whenFalse, shape));
}

const binary =
  (apply: (tf: Tfjs, left: TfTensor, right: TfTensor) => TfTensor) =>
  ([left, right]: readonly TfTensor[], _attributes: object, { tf }: { tf: Tfjs }) => [apply(tf, left, right)];
const unary =
  (apply: (tf: Tfjs, x: TfTensor) => TfTensor) =>
  ([x]: readonly TfTensor[], _attributes: object, { tf }: { tf: Tfjs }) => [apply(tf, x)];

export const ELEMENTWISE_KERNELS: KernelTable<ElementwiseOp> = {
  Add: binary((tf, a, b) => tf.add(a, b)),
  Sub: binary((tf, a, b) => tf.sub(a, b)),
  Mul: binary((tf, a, b) => tf.mul(a, b)),
  Div: binary((tf, a, b) => (a.dtype === 'int32' ? truncatingDivide(tf, a, b) : tf.div(a, b))),
  Pow: binary((tf, a, b) => tf.pow(a, b)),
  Max: binary((tf, a, b) => tf.maximum(a, b)),
  Min: binary((tf, a, b) => tf.minimum(a, b)),
  Equal: binary((tf, a, b) => tf.equal(a, b)),
  Less: binary((tf, a, b) => tf.less(a, b)),
  LessOrEqual: binary((tf, a, b) => tf.lessEqual(a, b)),
  Greater: binary((tf, a, b) => tf.greater(a, b)),
  GreaterOrEqual: binary((tf, a, b) => tf.greaterEqual(a, b)),
  And: binary((tf, a, b) => tf.logicalAnd(a, b)),
  Or: binary((tf, a, b) => tf.logicalOr(a, b)),
  Not: unary((tf, x) => tf.logicalNot(x)),
  Neg: unary((tf, x) => tf.neg(x)),
  Abs: unary((tf, x) => tf.abs(x)),
  Sign: unary((tf, x) => tf.sign(x)),
  Sqrt: unary((tf, x) => tf.sqrt(x)),
  Exp: unary((tf, x) => tf.exp(x)),
  Log: unary((tf, x) => tf.log(x)),
  Tanh: unary((tf, x) => tf.tanh(x)),
  Erf: unary((tf, x) => tf.erf(x)),
  Sigmoid: unary((tf, x) => tf.sigmoid(x)),
  Relu: unary((tf, x) => tf.relu(x)),
  // A clone shares the data (tfjs counts references) but is its own tensor, so the interpreter can dispose each once.
  Identity: unary((tf, x) => tf.clone(x)),
  StopGradient: unary((tf, x) => tf.clone(x)),
  Where: ([condition, whenTrue, whenFalse], _attributes, { tf }) => [select(tf, condition, whenTrue, whenFalse)],
  Cast: ([x], { to }, { tf }) => {
    if (to === 'bool') {
      // ONNX: nonzero (NaN included) is true. tfjs-wasm's Cast to bool copies the number (2 stays 2), so compare instead.
      return [x.dtype === 'bool' ? tf.clone(x) : tf.notEqual(x, tf.scalar(0, x.dtype))];
    }
    // float32 to int32 truncates toward zero and maps NaN to 0 on cpu and wasm, as ONNX and the reference do.
    return [tf.cast(x, to === 'int64' ? 'int32' : 'float32')];
  },
};
