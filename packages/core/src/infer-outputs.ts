import type { DType } from './dtype.js';
import { DTypeError } from './errors/dtype-error.js';
import { ShapeError } from './errors/shape-error.js';
import type { OpAttributes, OpName } from './op-set.js';
import { COMPARISONS, ELEMENTWISE_BINARY, ELEMENTWISE_UNARY, REDUCTIONS } from './op-set.js';
import { broadcastShapes, dimsEqual, divDims, formatShape, mulDims, normalizeAxis, shapeSize, type Dim, type Shape } from './shape.js';
import type { Tensor } from './tensor.js';

export interface OutputType {
  dtype: DType;
  shape: Dim[];
}

const FLOAT_ONLY = new Set<OpName>(['Sqrt', 'Exp', 'Log', 'Tanh', 'Erf', 'Sigmoid', 'Softmax', 'LogSoftmax', 'LayerNormalization', 'Pow']);
const INT64_BOUND = 2 ** 31;
const NUMERIC: readonly DType[] = ['float32', 'float64', 'int64'];

function expectDType(op: string, tensor: Tensor, allowed: readonly DType[], role: string): void {
  if (!allowed.includes(tensor.dtype)) {
    throw new DTypeError(`${op}: ${role} has dtype ${tensor.dtype}, but ${op} accepts ${allowed.join(' or ')}. Cast it first.`);
  }
}

function sameDType(op: string, inputs: readonly Tensor[]): DType {
  const dtype = inputs[0].dtype;
  for (const input of inputs) {
    if (input.dtype !== dtype) {
      throw new DTypeError(`${op}: operands have dtypes ${inputs.map((t) => t.dtype).join(' and ')}; ONNX requires equal dtypes. Cast one of them.`);
    }
  }
  return dtype;
}

/** Size along a sliced axis; symbolic when the input size is. */
function sliceLength(dim: Dim, start: Dim, end: Dim, step: number, where: string): Dim {
  if (typeof dim === 'number' && typeof start === 'number' && typeof end === 'number') {
    const clamp = (value: number, low: number, high: number) => Math.min(Math.max(value, low), high);
    let from = start < 0 ? start + dim : start;
    let to = end < 0 ? end + dim : end;
    if (step > 0) {
      from = clamp(from, 0, dim);
      to = clamp(to, 0, dim);
      return Math.max(0, Math.ceil((to - from) / step));
    }
    from = clamp(from, -1, dim - 1);
    to = clamp(to, -1, dim - 1);
    return Math.max(0, Math.ceil((to - from) / step));
  }
  if (step !== 1) return `${where}#len`;
  if (typeof start === 'number' && start === 0 && typeof end === 'string') return end;
  // Affine offsets from the end of a symbolic axis: D + c.
  const offset = (bound: Dim, isEnd: boolean): { fromEnd: boolean; value: number } | undefined => {
    if (typeof bound !== 'number') return undefined;
    if (isEnd && bound >= INT64_BOUND) return { fromEnd: true, value: 0 };
    return bound < 0 ? { fromEnd: true, value: bound } : { fromEnd: false, value: bound };
  };
  const from = offset(start, false);
  const to = offset(end, true);
  if (from && to) {
    if (from.fromEnd === to.fromEnd) return Math.max(0, to.value - from.value);
    if (to.fromEnd && !from.fromEnd) {
      const delta = to.value - from.value;
      return delta === 0 ? dim : `${dim}${delta > 0 ? '+' : '-'}${Math.abs(delta)}`;
    }
  }
  return `${where}#len`;
}

function reshapeTarget(input: Shape, target: readonly Dim[], where: string): Dim[] {
  const inferred = target.filter((dim) => dim === -1).length;
  if (inferred > 1) throw new ShapeError(`${where}: at most one dimension may be -1, got ${formatShape(target)}.`);
  for (const dim of target) {
    if (typeof dim === 'number' && (dim < -1 || !Number.isInteger(dim) || dim === 0)) {
      throw new ShapeError(`${where}: invalid target dimension ${dim} in ${formatShape(target)}; use sizes >= 1, symbols, or one -1.`);
    }
  }
  const total = shapeSize(input);
  const known = mulDims(...target.filter((dim) => dim !== -1));
  if (inferred === 0) {
    if (!dimsEqual(known, total) && typeof total === 'number' && typeof known === 'number') {
      throw new ShapeError(`${where}: cannot reshape ${formatShape(input)} (${total} elements) to ${formatShape(target)} (${known} elements).`);
    }
    return [...target];
  }
  const rest = divDims(total, known);
  if (rest === undefined) {
    if (typeof total === 'number' && typeof known === 'number') {
      throw new ShapeError(`${where}: cannot reshape ${formatShape(input)} (${total} elements) to ${formatShape(target)}.`);
    }
    return target.map((dim) => (dim === -1 ? `${where}#rest` : dim));
  }
  return target.map((dim) => (dim === -1 ? rest : dim));
}

function checkAxes(axes: readonly number[], rank: number, where: string): number[] {
  const normalized = axes.map((axis) => normalizeAxis(axis, rank, where));
  if (new Set(normalized).size !== normalized.length) throw new ShapeError(`${where}: repeated axis in [${axes.join(', ')}].`);
  return normalized;
}

/**
 * Output dtypes and shapes of one primitive, checking what ONNX would reject
 * at session creation, so that errors point at the builder call instead.
 */
export function inferOutputs<O extends OpName>(op: O, inputs: readonly Tensor[], attributes: OpAttributes[O], where: string): OutputType[] {
  const a = attributes as OpAttributes[OpName] & Record<string, unknown>;
  const [x] = inputs;
  if (ELEMENTWISE_BINARY.includes(op)) {
    const dtype = sameDType(op, inputs);
    if (dtype === 'bool') throw new DTypeError(`${where}: ${op} does not accept bool operands; cast to float32 first.`);
    if (FLOAT_ONLY.has(op)) expectDType(op, x, ['float32', 'float64'], 'the base');
    return [{ dtype, shape: broadcastShapes([inputs[0].shape, inputs[1].shape], where) }];
  }
  if (COMPARISONS.includes(op)) {
    const dtype = sameDType(op, inputs);
    if ((op === 'And' || op === 'Or') !== (dtype === 'bool')) {
      throw new DTypeError(`${where}: ${op} got ${dtype} operands; ${op === 'And' || op === 'Or' ? 'logic ops take bool' : 'comparisons take numeric'} operands.`);
    }
    return [{ dtype: 'bool', shape: broadcastShapes([inputs[0].shape, inputs[1].shape], where) }];
  }
  if (ELEMENTWISE_UNARY.includes(op)) {
    if (FLOAT_ONLY.has(op)) expectDType(op, x, ['float32', 'float64'], 'the input');
    if (op === 'Not') expectDType(op, x, ['bool'], 'the input');
    else if (op !== 'Identity' && op !== 'StopGradient') expectDType(op, x, NUMERIC, 'the input');
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  }
  if (REDUCTIONS.includes(op)) {
    expectDType(op, x, NUMERIC, 'the input');
    const { axes, keepdims } = a as OpAttributes['ReduceSum'];
    const reduced = new Set(axes.length === 0 ? x.shape.map((_, i) => i) : checkAxes(axes, x.rank, where));
    const shape: Dim[] = [];
    x.shape.forEach((dim, axis) => {
      if (!reduced.has(axis)) shape.push(dim);
      else if (keepdims) shape.push(1);
    });
    return [{ dtype: x.dtype, shape }];
  }
  switch (op as OpName) {
    case 'Where': {
      expectDType(op, inputs[0], ['bool'], 'the condition');
      const dtype = sameDType(op, inputs.slice(1));
      return [
        {
          dtype,
          shape: broadcastShapes(
            inputs.map((t) => t.shape),
            where,
          ),
        },
      ];
    }
    case 'Cast':
      return [{ dtype: (a as OpAttributes['Cast']).to, shape: [...x.shape] }];
    case 'MatMul': {
      const [left, right] = inputs;
      sameDType(op, inputs);
      expectDType(op, left, NUMERIC, 'the left operand');
      if (left.rank === 0 || right.rank === 0) throw new ShapeError(`${where}: MatMul operands must have rank >= 1, got ${formatShape(left.shape)} and ${formatShape(right.shape)}.`);
      const l = left.rank === 1 ? [1, left.shape[0]] : [...left.shape];
      const r = right.rank === 1 ? [right.shape[0], 1] : [...right.shape];
      const inner = [l[l.length - 1], r[r.length - 2]];
      if (!dimsEqual(inner[0], inner[1])) {
        throw new ShapeError(`${where}: MatMul inner dimensions differ: ${formatShape(left.shape)} x ${formatShape(right.shape)} (${inner[0]} vs ${inner[1]}).`);
      }
      const batch = broadcastShapes([l.slice(0, -2), r.slice(0, -2)], where);
      const shape = [...batch, l[l.length - 2], r[r.length - 1]];
      if (left.rank === 1) shape.splice(shape.length - 2, 1);
      if (right.rank === 1) shape.pop();
      return [{ dtype: left.dtype, shape }];
    }
    case 'Reshape':
      return [{ dtype: x.dtype, shape: reshapeTarget(x.shape, (a as OpAttributes['Reshape']).shape, where) }];
    case 'Transpose': {
      const { perm } = a as OpAttributes['Transpose'];
      const sorted = [...perm].sort((p, q) => p - q);
      if (perm.length !== x.rank || sorted.some((value, i) => value !== i)) {
        throw new ShapeError(`${where}: perm [${perm.join(', ')}] is not a permutation of the ${x.rank} axes of ${formatShape(x.shape)}.`);
      }
      return [{ dtype: x.dtype, shape: perm.map((axis) => x.shape[axis]) }];
    }
    case 'Unsqueeze': {
      const rank = x.rank + (a as OpAttributes['Unsqueeze']).axes.length;
      const axes = new Set(checkAxes((a as OpAttributes['Unsqueeze']).axes, rank, where));
      const shape: Dim[] = [];
      let next = 0;
      for (let axis = 0; axis < rank; axis++) shape.push(axes.has(axis) ? 1 : x.shape[next++]);
      return [{ dtype: x.dtype, shape }];
    }
    case 'Squeeze': {
      const axes = new Set(checkAxes((a as OpAttributes['Squeeze']).axes, x.rank, where));
      for (const axis of axes) {
        if (x.shape[axis] !== 1) throw new ShapeError(`${where}: cannot squeeze axis ${axis} of ${formatShape(x.shape)}: its size is not 1.`);
      }
      return [{ dtype: x.dtype, shape: x.shape.filter((_, axis) => !axes.has(axis)) }];
    }
    case 'Concat': {
      const axis = normalizeAxis((a as OpAttributes['Concat']).axis, x.rank, where);
      sameDType(op, inputs);
      const shape = [...x.shape];
      const along: Dim[] = [];
      for (const input of inputs) {
        if (input.rank !== x.rank || input.shape.some((dim, i) => i !== axis && !dimsEqual(dim, x.shape[i]))) {
          throw new ShapeError(`${where}: Concat operands ${inputs.map((t) => formatShape(t.shape)).join(', ')} differ outside axis ${axis}.`);
        }
        along.push(input.shape[axis]);
      }
      shape[axis] = along.every((dim) => typeof dim === 'number') ? (along as number[]).reduce((s, d) => s + d, 0) : along.length === 1 ? along[0] : `${where}#concat`;
      return [{ dtype: x.dtype, shape }];
    }
    case 'Slice': {
      const { starts, ends, axes, steps } = a as OpAttributes['Slice'];
      if (starts.length !== ends.length || axes.length !== starts.length || steps.length !== starts.length) {
        throw new ShapeError(`${where}: starts, ends, axes and steps must have equal lengths.`);
      }
      const shape = [...x.shape];
      checkAxes(axes, x.rank, where).forEach((axis, i) => {
        if (steps[i] === 0) throw new ShapeError(`${where}: slice step must not be 0.`);
        shape[axis] = sliceLength(x.shape[axis], starts[i], ends[i], steps[i], where);
      });
      return [{ dtype: x.dtype, shape }];
    }
    case 'Expand':
      return [{ dtype: x.dtype, shape: broadcastShapes([x.shape, (a as OpAttributes['Expand']).shape], where) }];
    case 'Shape': {
      const { start, end } = a as OpAttributes['Shape'];
      const from = start < 0 ? start + x.rank : start;
      const to = end === undefined ? x.rank : end < 0 ? end + x.rank : end;
      return [{ dtype: 'int64', shape: [Math.max(0, Math.min(to, x.rank) - Math.max(from, 0))] }];
    }
    case 'Range': {
      sameDType(op, inputs);
      expectDType(op, x, NUMERIC, 'start');
      for (const bound of inputs) {
        if (bound.rank !== 0) throw new ShapeError(`${where}: Range takes scalar start, limit and delta; got ${formatShape(bound.shape)}.`);
      }
      return [{ dtype: x.dtype, shape: [(a as OpAttributes['Range']).length] }];
    }
    case 'Gather': {
      const axis = normalizeAxis((a as OpAttributes['Gather']).axis, x.rank, where);
      expectDType(op, inputs[1], ['int64'], 'the indices');
      return [{ dtype: x.dtype, shape: [...x.shape.slice(0, axis), ...inputs[1].shape, ...x.shape.slice(axis + 1)] }];
    }
    case 'GatherElements': {
      normalizeAxis((a as OpAttributes['GatherElements']).axis, x.rank, where);
      expectDType(op, inputs[1], ['int64'], 'the indices');
      if (inputs[1].rank !== x.rank) throw new ShapeError(`${where}: indices rank ${inputs[1].rank} must equal data rank ${x.rank}.`);
      return [{ dtype: x.dtype, shape: [...inputs[1].shape] }];
    }
    case 'ScatterElements': {
      normalizeAxis((a as OpAttributes['ScatterElements']).axis, x.rank, where);
      expectDType(op, inputs[1], ['int64'], 'the indices');
      sameDType(op, [inputs[0], inputs[2]]);
      if (inputs[1].rank !== x.rank || inputs[2].rank !== x.rank) {
        throw new ShapeError(`${where}: data, indices and updates must share rank; got ${inputs.map((t) => formatShape(t.shape)).join(', ')}.`);
      }
      return [{ dtype: x.dtype, shape: [...x.shape] }];
    }
    case 'ScatterND': {
      const [, indices, updates] = inputs;
      expectDType(op, indices, ['int64'], 'the indices');
      sameDType(op, [x, updates]);
      const depth = indices.shape[indices.rank - 1];
      if (typeof depth !== 'number' || depth > x.rank) {
        throw new ShapeError(`${where}: the last dimension of indices ${formatShape(indices.shape)} must be a static size <= data rank ${x.rank}.`);
      }
      const expected = [...indices.shape.slice(0, -1), ...x.shape.slice(depth)];
      if (updates.rank !== expected.length || updates.shape.some((dim, i) => !dimsEqual(dim, expected[i]))) {
        throw new ShapeError(`${where}: updates shape ${formatShape(updates.shape)} must be ${formatShape(expected)}.`);
      }
      return [{ dtype: x.dtype, shape: [...x.shape] }];
    }
    case 'TopK': {
      const { axis, kDim } = a as OpAttributes['TopK'];
      expectDType(op, x, NUMERIC, 'the input');
      const normalized = normalizeAxis(axis, x.rank, where);
      expectDType(op, inputs[1], ['int64'], 'k');
      const shape = [...x.shape];
      shape[normalized] = kDim;
      const size = x.shape[normalized];
      if (typeof kDim === 'number' && typeof size === 'number' && kDim > size) {
        throw new ShapeError(`${where}: k = ${kDim} exceeds the size ${size} of axis ${axis} of ${formatShape(x.shape)}.`);
      }
      return [
        { dtype: x.dtype, shape },
        { dtype: 'int64', shape: [...shape] },
      ];
    }
    case 'Softmax':
    case 'LogSoftmax':
      expectDType(op, x, ['float32', 'float64'], 'the input');
      normalizeAxis((a as OpAttributes['Softmax']).axis, x.rank, where);
      return [{ dtype: x.dtype, shape: [...x.shape] }];
    case 'Trilu':
      if (x.rank < 2) throw new ShapeError(`${where}: Trilu needs rank >= 2, got ${formatShape(x.shape)}.`);
      return [{ dtype: x.dtype, shape: [...x.shape] }];
    case 'LayerNormalization': {
      expectDType(op, x, ['float32', 'float64'], 'the input');
      const axis = normalizeAxis((a as OpAttributes['LayerNormalization']).axis, x.rank, where);
      const normalized = x.shape.slice(axis);
      for (const parameter of inputs.slice(1)) {
        sameDType(op, [x, parameter]);
        broadcastShapes([normalized, parameter.shape], where);
      }
      return [{ dtype: x.dtype, shape: [...x.shape] }];
    }
    case 'Constant': {
      const { value } = a as OpAttributes['Constant'];
      return [{ dtype: value.dtype, shape: [...value.shape] }];
    }
    case 'CustomVjp': {
      const { primalCount } = a as OpAttributes['CustomVjp'];
      return inputs.slice(primalCount).map((output) => ({ dtype: output.dtype, shape: [...output.shape] }));
    }
    default:
      throw new ShapeError(`${where}: no shape rule for op ${op}.`);
  }
}
