import { axesSize, axisSize, zeros } from './gradient-helpers.js';
import type { Graph } from './graph.js';
import { GraphError } from './errors/graph-error.js';
import type { Node } from './node.js';
import type { OpAttributes, OpName } from './op-set.js';
import {
  add,
  cast,
  div,
  equal,
  exp,
  expand,
  gather,
  gatherElements,
  greater,
  greaterOrEqual,
  less,
  log,
  matmul,
  mul,
  neg,
  pow,
  range,
  reduceMean,
  reduceSum,
  reshape,
  scatterElements,
  scatterND,
  sign,
  slice,
  sqrt,
  squeeze,
  sub,
  transpose,
  trilu,
  unsqueeze,
  where,
} from './primitives.js';
import { mulDims, normalizeAxis } from './shape.js';
import type { Tensor } from './tensor.js';

/**
 * What a rule sees: the node, its inputs and outputs, the cotangent of each
 * output (undefined where none flows) and which inputs need a gradient.
 * It returns one gradient per input (undefined for none); gradients may have
 * the broadcast shape: the walker reduces them to the input's shape.
 */
export interface RuleContext<O extends OpName> {
  graph: Graph;
  node: Node<O>;
  attributes: OpAttributes[O];
  inputs: readonly Tensor[];
  outputs: readonly Tensor[];
  cotangents: readonly (Tensor | undefined)[];
  needs: readonly boolean[];
}

export type GradientRule<O extends OpName> = (context: RuleContext<O>) => (Tensor | undefined)[];

const NO_GRADIENT = (): (Tensor | undefined)[] => [];

/** Reinserts reduced axes so the cotangent broadcasts back over the input. */
function keepReducedAxes(dy: Tensor, rank: number, axes: readonly number[], keepdims: boolean): { dy: Tensor; axes: number[] } {
  const normalized = axes.length === 0 ? Array.from({ length: rank }, (_, i) => i) : axes.map((axis) => normalizeAxis(axis, rank, 'reduce gradient'));
  return {
    dy:
      keepdims || normalized.length === 0
        ? dy
        : unsqueeze(
            dy,
            [...normalized].sort((a, b) => a - b),
          ),
    axes: normalized,
  };
}

/** d b for a @ b with a [..., m, k] and b [k, n]: a's leading axes flattened into rows. */
function flattenedWeightGradient(a: Tensor, dy: Tensor): Tensor {
  const rows = mulDims(...a.shape.slice(0, -1));
  const flatA = reshape(a, [rows, a.shape[a.rank - 1]]);
  const flatDy = reshape(dy, [rows, dy.shape[dy.rank - 1]]);
  return matmul(transpose(flatA), flatDy);
}

function swapLastTwo(x: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i);
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return transpose(x, perm);
}

function floatMask(condition: Tensor, like: Tensor): Tensor {
  return cast(condition, like.dtype);
}

/** Gradient of one single-axis slice: scatter dy into zeros at start + step * i. */
function sliceAxisGradient(dy: Tensor, x: Tensor, start: number | string, step: number, axis: number): Tensor {
  if (typeof start === 'string') {
    throw new GraphError(`Slice gradient: symbolic start '${start}' is not supported; slice with a numeric start.`);
  }
  const graph = dy.graph;
  const first = start < 0 ? add(axisSize(x, axis, 'int64'), start) : graph.scalar(start, 'int64');
  const count = axisSize(dy, axis, 'int64');
  const offsets = range(graph.scalar(0, 'int64'), count, graph.scalar(1, 'int64'), { length: dy.shape[axis] });
  const positions = add(first, mul(offsets, step));
  const indices = expand(
    reshape(
      positions,
      dy.shape.map((dim, i) => (i === axis ? dim : 1)),
    ),
    dy.shape,
  );
  return scatterElements(zeros(graph, x.shape, dy.dtype), indices, dy, axis, 'add');
}

type RuleTable = { [O in OpName]: GradientRule<O> };

export const GRADIENT_RULES: RuleTable = {
  Add: ({ cotangents: [dy] }) => [dy, dy],
  Sub: ({ cotangents: [dy] }) => [dy, dy && neg(dy)],
  Mul: ({ cotangents: [dy], inputs: [a, b], needs }) => [needs[0] ? mul(dy!, b) : undefined, needs[1] ? mul(dy!, a) : undefined],
  Div: ({ cotangents: [dy], inputs: [, b], outputs: [y], needs }) => [needs[0] ? div(dy!, b) : undefined, needs[1] ? neg(div(mul(dy!, y), b)) : undefined],
  Pow: ({ cotangents: [dy], inputs: [a, b], outputs: [y], needs }) => [
    // b * a^(b-1) rather than b * y / a, which is 0/0 at a = 0.
    needs[0] ? mul(dy!, mul(b, pow(a, sub(b, 1)))) : undefined,
    needs[1] ? mul(dy!, mul(y, log(a))) : undefined,
  ],
  // Ties send the whole gradient to the first operand.
  Max: ({ cotangents: [dy], inputs: [a, b] }) => {
    const first = greaterOrEqual(a, b);
    return [where(first, dy!, 0), where(first, 0, dy!)];
  },
  Min: ({ cotangents: [dy], inputs: [a, b] }) => {
    const first = greaterOrEqual(b, a);
    return [where(first, dy!, 0), where(first, 0, dy!)];
  },
  Equal: NO_GRADIENT,
  Less: NO_GRADIENT,
  LessOrEqual: NO_GRADIENT,
  Greater: NO_GRADIENT,
  GreaterOrEqual: NO_GRADIENT,
  And: NO_GRADIENT,
  Or: NO_GRADIENT,
  Not: NO_GRADIENT,
  Sign: NO_GRADIENT,
  Shape: NO_GRADIENT,
  Range: NO_GRADIENT,
  Constant: NO_GRADIENT,
  StopGradient: NO_GRADIENT,
  Neg: ({ cotangents: [dy] }) => [neg(dy!)],
  Abs: ({ cotangents: [dy], inputs: [x] }) => [mul(dy!, sign(x))],
  Sqrt: ({ cotangents: [dy], outputs: [y] }) => [div(mul(dy!, 0.5), y)],
  Exp: ({ cotangents: [dy], outputs: [y] }) => [mul(dy!, y)],
  Log: ({ cotangents: [dy], inputs: [x] }) => [div(dy!, x)],
  Tanh: ({ cotangents: [dy], outputs: [y] }) => [mul(dy!, sub(1, mul(y, y)))],
  Erf: ({ cotangents: [dy], inputs: [x] }) => [mul(dy!, mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI)))],
  Sigmoid: ({ cotangents: [dy], outputs: [y] }) => [mul(dy!, mul(y, sub(1, y)))],
  Relu: ({ cotangents: [dy], inputs: [x] }) => [where(greater(x, 0), dy!, 0)],
  Identity: ({ cotangents: [dy] }) => [dy],
  Where: ({ cotangents: [dy], inputs: [condition], needs }) => [undefined, needs[1] ? where(condition, dy!, 0) : undefined, needs[2] ? where(condition, 0, dy!) : undefined],
  Cast: ({ cotangents: [dy], inputs: [x] }) => [x.dtype === 'float32' || x.dtype === 'float64' ? cast(dy!, x.dtype) : undefined],
  MatMul: ({ cotangents: [dy], inputs: [a, b], needs }) => {
    // Rank-1 operands are promoted as numpy does; the walker sums the rest.
    const a2 = a.rank === 1 ? unsqueeze(a, 0) : a;
    const b2 = b.rank === 1 ? unsqueeze(b, 1) : b;
    let dy2 = dy!;
    if (a.rank === 1) dy2 = unsqueeze(dy2, b.rank === 1 ? 0 : dy2.rank - 1);
    if (b.rank === 1) dy2 = unsqueeze(dy2, dy2.rank);
    let da = needs[0] ? matmul(dy2, swapLastTwo(b2)) : undefined;
    // [..., m, k] @ [k, n] (a layer applied over batch and position): the weight's gradient as one
    // [k, rows] @ [rows, n] product, not a [..., k, n] batch of them for the walker to sum.
    let db = !needs[1] ? undefined : b.rank === 2 && a.rank > 2 ? flattenedWeightGradient(a, dy!) : matmul(swapLastTwo(a2), dy2);
    if (da && a.rank === 1) da = squeeze(da, da.rank - 2);
    if (db && b.rank === 1) db = squeeze(db, db.rank - 1);
    return [da, db];
  },
  Reshape: ({ cotangents: [dy], inputs: [x] }) => [reshape(dy!, x.shape)],
  Transpose: ({ cotangents: [dy], attributes: { perm } }) => {
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [transpose(dy!, inverse)];
  },
  Unsqueeze: ({ cotangents: [dy], attributes: { axes } }) => [
    squeeze(
      dy!,
      axes.map((axis) => normalizeAxis(axis, dy!.rank, 'Unsqueeze gradient')),
    ),
  ],
  Squeeze: ({ cotangents: [dy], inputs: [x] }) => [reshape(dy!, x.shape)],
  Concat: ({ cotangents: [dy], inputs, attributes }) => {
    const axis = normalizeAxis(attributes.axis, inputs[0].rank, 'Concat gradient');
    let offset = 0;
    return inputs.map((input) => {
      const size = input.shape[axis];
      if (typeof size !== 'number') {
        throw new GraphError(`Concat gradient: operand size along axis ${axis} is symbolic ('${size}'); concatenate static sizes to differentiate.`);
      }
      const part = slice(dy!, { starts: [offset], ends: [offset + size], axes: [axis] });
      offset += size;
      return part;
    });
  },
  Slice: ({ cotangents: [dy], inputs: [x], attributes }) => {
    const { starts, axes, steps } = attributes;
    if (axes.length !== 1) {
      throw new GraphError('Slice gradient: slice one axis per op to differentiate (compose several slices).');
    }
    return [sliceAxisGradient(dy!, x, starts[0], steps[0], normalizeAxis(axes[0], x.rank, 'Slice gradient'))];
  },
  Expand: ({ cotangents: [dy] }) => [dy],
  Gather: ({ graph, cotangents: [dy], inputs: [x, indices], attributes }) => {
    const axis = normalizeAxis(attributes.axis, x.rank, 'Gather gradient');
    const size = axisSize(x, axis, 'int64');
    const positive = where(less(indices, 0), add(indices, size), indices);
    // Move the gathered axis first, scatter-add rows, move it back.
    const r = indices.rank;
    const dyPerm = [...Array.from({ length: r }, (_, i) => axis + i), ...Array.from({ length: axis }, (_, i) => i), ...Array.from({ length: x.rank - axis - 1 }, (_, i) => axis + r + i)];
    const xPerm = [axis, ...Array.from({ length: axis }, (_, i) => i), ...Array.from({ length: x.rank - axis - 1 }, (_, i) => axis + 1 + i)];
    const movedX = xPerm.map((i) => x.shape[i]);
    const scattered = scatterND(zeros(graph, movedX, dy!.dtype), unsqueeze(positive, r), transpose(dy!, dyPerm), 'add');
    return [
      transpose(
        scattered,
        xPerm.map((_, i) => xPerm.indexOf(i)),
      ),
      undefined,
    ];
  },
  GatherElements: ({ graph, cotangents: [dy], inputs: [x, indices], attributes: { axis } }) => [scatterElements(zeros(graph, x.shape, dy!.dtype), indices, dy!, axis, 'add'), undefined],
  ScatterElements: ({ graph, cotangents: [dy], inputs: [, indices, updates], attributes: { axis, reduction }, needs }) => [
    needs[0] ? (reduction === 'add' ? dy : scatterElements(dy!, indices, zeros(graph, updates.shape, dy!.dtype), axis)) : undefined,
    undefined,
    needs[2] ? gatherElements(dy!, indices, axis) : undefined,
  ],
  ScatterND: ({ graph, cotangents: [dy], inputs: [data, indices, updates], attributes: { reduction }, needs }) => {
    const depth = indices.shape[indices.rank - 1] as number;
    let updatesGradient: Tensor | undefined;
    if (needs[2]) {
      // Gather rows of dy flattened over the indexed axes.
      const leading = data.shape.slice(0, depth);
      const strides: number[] = [];
      let stride = 1;
      for (let i = depth - 1; i >= 0; i--) {
        const dim = leading[i];
        if (typeof dim !== 'number' && i > 0) {
          throw new GraphError('ScatterND gradient: indexed axes after the first must be static to differentiate w.r.t. updates.');
        }
        strides[i] = stride;
        stride *= typeof dim === 'number' ? dim : 1;
      }
      const flatIndex = reduceSum(mul(indices, graph.constant(strides, [depth], 'int64')), -1);
      const flat = reshape(dy!, [-1, ...data.shape.slice(depth)]);
      updatesGradient = gather(flat, flatIndex, 0);
    }
    return [needs[0] ? (reduction === 'add' ? dy : scatterND(dy!, indices, zeros(graph, updates.shape, dy!.dtype))) : undefined, undefined, updatesGradient];
  },
  TopK: ({ graph, cotangents: [dValues], inputs: [x], outputs: [, indices], attributes: { axis } }) => [
    dValues && scatterElements(zeros(graph, x.shape, dValues.dtype), indices, dValues, axis, 'add'),
    undefined,
  ],
  ReduceSum: ({ cotangents: [dy], inputs: [x], attributes }) => [expand(keepReducedAxes(dy!, x.rank, attributes.axes, attributes.keepdims).dy, x.shape)],
  ReduceMean: ({ cotangents: [dy], inputs: [x], attributes }) => {
    const kept = keepReducedAxes(dy!, x.rank, attributes.axes, attributes.keepdims);
    return [expand(div(kept.dy, axesSize(x, kept.axes)), x.shape)];
  },
  // Ties share the gradient equally, as PyTorch's amax does.
  ReduceMax: ({ cotangents: [dy], inputs: [x], outputs: [y], attributes }) => {
    const kept = keepReducedAxes(dy!, x.rank, attributes.axes, attributes.keepdims);
    const keptY = keepReducedAxes(y, x.rank, attributes.axes, attributes.keepdims).dy;
    const mask = floatMask(equal(x, keptY), x);
    return [mul(mask, div(kept.dy, reduceSum(mask, kept.axes, true)))];
  },
  ReduceSumSquare: ({ cotangents: [dy], inputs: [x], attributes }) => [mul(mul(x, 2), keepReducedAxes(dy!, x.rank, attributes.axes, attributes.keepdims).dy)],
  Softmax: ({ cotangents: [dy], outputs: [y], attributes: { axis } }) => [mul(y, sub(dy!, reduceSum(mul(dy!, y), axis, true)))],
  LogSoftmax: ({ cotangents: [dy], outputs: [y], attributes: { axis } }) => [sub(dy!, mul(exp(y), reduceSum(dy!, axis, true)))],
  Trilu: ({ cotangents: [dy], inputs, attributes: { upper, k } }) => {
    if (inputs.length > 1) throw new GraphError('Trilu gradient: pass k as an attribute.');
    return [trilu(dy!, { upper, k })];
  },
  LayerNormalization: ({ cotangents: [dy], inputs: [x, scale, bias], attributes: { axis, epsilon }, needs }) => {
    const start = normalizeAxis(axis, x.rank, 'LayerNormalization gradient');
    const axes = Array.from({ length: x.rank - start }, (_, i) => start + i);
    const centred = sub(x, reduceMean(x, axes, true));
    const inverseStd = div(1, sqrt(add(reduceMean(mul(centred, centred), axes, true), epsilon)));
    const normalized = mul(centred, inverseStd);
    const dNormalized = mul(dy!, scale);
    const dx = needs[0] ? mul(inverseStd, sub(sub(dNormalized, reduceMean(dNormalized, axes, true)), mul(normalized, reduceMean(mul(dNormalized, normalized), axes, true)))) : undefined;
    return [dx, needs[1] ? mul(dy!, normalized) : undefined, bias && needs[2] ? dy : undefined];
  },
  CustomVjp: ({ graph, inputs, cotangents, attributes: { rule, primalCount } }) => rule(graph, inputs.slice(0, primalCount), inputs.slice(primalCount), cotangents),
};
