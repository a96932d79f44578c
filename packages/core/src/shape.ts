import { ShapeError } from './errors/shape-error.js';

/**
 * A dimension: a concrete size, or a symbol (`'batch'`) bound when a program
 * runs. Products of symbols are written `'batch*seq'` (factors sorted), so
 * that reshapes which merge symbolic axes keep a name the runtime can
 * evaluate.
 */
export type Dim = number | string;
export type Shape = readonly Dim[];

export function isStatic(shape: Shape): shape is readonly number[] {
  return shape.every((dim) => typeof dim === 'number');
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function dimFactors(dim: Dim): { coefficient: number; symbols: string[] } {
  if (typeof dim === 'number') return { coefficient: dim, symbols: [] };
  let coefficient = 1;
  const symbols: string[] = [];
  for (const part of dim.split('*')) {
    const numeric = Number(part);
    if (part !== '' && Number.isInteger(numeric)) coefficient *= numeric;
    else symbols.push(part);
  }
  return { coefficient, symbols };
}

function fromFactors(coefficient: number, symbols: string[]): Dim {
  if (symbols.length === 0) return coefficient;
  const sorted = [...symbols].sort();
  return coefficient === 1 ? sorted.join('*') : [String(coefficient), ...sorted].join('*');
}

export function mulDims(...dims: Dim[]): Dim {
  let coefficient = 1;
  const symbols: string[] = [];
  for (const dim of dims) {
    const factors = dimFactors(dim);
    coefficient *= factors.coefficient;
    symbols.push(...factors.symbols);
  }
  return fromFactors(coefficient, symbols);
}

/** numerator / denominator when it divides exactly, else undefined. */
export function divDims(numerator: Dim, denominator: Dim): Dim | undefined {
  const top = dimFactors(numerator);
  const bottom = dimFactors(denominator);
  if (bottom.coefficient === 0 || top.coefficient % bottom.coefficient !== 0) return undefined;
  const remaining = [...top.symbols];
  for (const symbol of bottom.symbols) {
    const at = remaining.indexOf(symbol);
    if (at < 0) return undefined;
    remaining.splice(at, 1);
  }
  return fromFactors(top.coefficient / bottom.coefficient, remaining);
}

export function shapeSize(shape: Shape): Dim {
  return mulDims(...shape);
}

export function dimsEqual(a: Dim, b: Dim): boolean {
  if (typeof a === 'number' || typeof b === 'number') return a === b;
  return mulDims(a) === mulDims(b);
}

/** ONNX (numpy) multidirectional broadcasting. */
export function broadcastShapes(shapes: readonly Shape[], where = 'broadcast'): Dim[] {
  const rank = Math.max(0, ...shapes.map((shape) => shape.length));
  const result: Dim[] = [];
  for (let axis = 0; axis < rank; axis++) {
    let dim: Dim = 1;
    for (const shape of shapes) {
      const own = shape[axis - rank + shape.length];
      if (own === undefined || own === 1) continue;
      if (dim === 1) dim = own;
      else if (!dimsEqual(dim, own)) {
        throw new ShapeError(
          `${where}: shapes ${shapes.map(formatShape).join(' and ')} do not broadcast (axis ${axis}: ${dim} vs ${own}). Reshape or expand one operand so trailing dimensions match or are 1.`,
        );
      }
    }
    result.push(dim);
  }
  return result;
}

export function normalizeAxis(axis: number, rank: number, where: string): number {
  const normalized = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(normalized) || normalized < 0 || normalized >= Math.max(rank, 1)) {
    throw new ShapeError(`${where}: axis ${axis} is out of range for a tensor of rank ${rank}; use an axis in [${-rank}, ${rank - 1}].`);
  }
  return normalized;
}

/** Binds symbols to sizes; evaluates products. */
export function evaluateDim(dim: Dim, bindings: ReadonlyMap<string, number>, where: string): number {
  if (typeof dim === 'number') return dim;
  const { coefficient, symbols } = dimFactors(dim);
  let value = coefficient;
  for (const symbol of symbols) {
    const bound = bindings.get(symbol);
    if (bound === undefined) {
      throw new ShapeError(`${where}: symbolic dimension '${symbol}' is not bound by any input shape.`);
    }
    value *= bound;
  }
  return value;
}
