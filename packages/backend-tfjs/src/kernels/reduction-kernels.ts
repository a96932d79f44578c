import { normalizeAxis, sizeOf } from '@nnd/core';
import type { TfTensor } from '../tfjs-runtime.js';
import { blockedSum } from './blocked-sum.js';
import { truncatingDivide } from './elementwise-kernels.js';
import type { KernelContext, KernelTable } from './kernel.js';

type ReductionOp = 'ReduceSum' | 'ReduceMean' | 'ReduceMax' | 'ReduceSumSquare';

/** ONNX reduces every axis when `axes` is empty (noop_with_empty_axes = 0). */
function reducedAxes(x: TfTensor, axes: readonly number[], where: string): number[] {
  return axes.length === 0 ? x.shape.map((_, axis) => axis) : axes.map((axis) => normalizeAxis(axis, x.rank, where));
}

type Reduce = (x: TfTensor, axes: number[], keepdims: boolean, context: KernelContext) => TfTensor;

function reduction(reduce: Reduce) {
  return ([x]: readonly TfTensor[], { axes, keepdims }: { axes: number[]; keepdims: boolean }, context: KernelContext) => [reduce(x, reducedAxes(x, axes, context.where), keepdims, context)];
}

export const REDUCTION_KERNELS: KernelTable<ReductionOp> = {
  ReduceSum: reduction((x, axes, keepdims, { tf }) => blockedSum(tf, x, axes, keepdims)),
  ReduceMean: reduction((x, axes, keepdims, { tf }) => {
    const count = sizeOf(axes.map((axis) => x.shape[axis]));
    const sum = blockedSum(tf, x, axes, keepdims);
    // tf.mean of int32 returns float32; ONNX keeps the integer type, truncating like integer Div.
    return x.dtype === 'int32' ? truncatingDivide(tf, sum, tf.scalar(count, 'int32')) : tf.div(sum, tf.scalar(count, 'float32'));
  }),
  ReduceMax: reduction((x, axes, keepdims, { tf }) => tf.max(x, axes, keepdims)),
  ReduceSumSquare: reduction((x, axes, keepdims, { tf }) => blockedSum(tf, tf.square(x), axes, keepdims)),
};
