import { ShapeError } from './errors/shape-error.js';
import { dimFactors, evaluateDim, formatShape, mulDims, type Dim, type Shape } from './shape.js';

function isLoneSymbol(dim: Dim): boolean {
  const { coefficient, symbols } = dimFactors(dim);
  return typeof dim === 'string' && coefficient === 1 && symbols.length === 1;
}

/**
 * `items` reordered (stably) so that those whose shape holds only lone
 * symbols come before those with a product (`'batch*seq'`, `'2*batch'`):
 * binding feeds in this order binds every lone symbol before any product is
 * checked against its factors, whatever order the inputs were declared in.
 */
export function loneSymbolsFirst<T>(items: readonly T[], shapeOf: (item: T) => Shape): T[] {
  const hasProducts = (item: T) => Number(shapeOf(item).some((dim) => typeof dim === 'string' && !isLoneSymbol(dim)));
  return [...items].sort((p, q) => hasProducts(p) - hasProducts(q));
}

/**
 * Sizes of symbolic dimensions in one run, bound from runtime shapes: a
 * symbol takes its size from the first tensor (feeds first, see
 * `loneSymbolsFirst`, then in schedule order, as `symbolSources` says) that
 * carries it as a whole dimension, and every later carrier is checked
 * against it. Products (`'batch*seq'`) are known whole once a tensor carries
 * them, or from their factors through `evaluateDim`. The reference
 * interpreter and the tfjs backend bind symbols with this one class.
 */
export class SymbolBindings {
  /** Keyed by the normalised dimension (`mulDims`), lone symbols and whole products alike. */
  private readonly sizes = new Map<string, number>();
  private readonly origins = new Map<string, string>();

  /**
   * @param where prefixes the messages of `match`'s errors (`'evaluateGraph'`, `'tfjs run'`).
   * @param tensorsAre how `resolve`'s message says the tensors before the failing node came about.
   */
  constructor(
    private readonly where: string,
    private readonly tensorsAre: 'evaluated' | 'computed',
  ) {}

  /** The size of `dim` from the bindings so far, or undefined when a symbol in it is not bound yet. */
  lookup(dim: Dim): number | undefined {
    if (typeof dim === 'number') return dim;
    const key = String(mulDims(dim));
    const whole = this.sizes.get(key);
    if (whole !== undefined) return whole;
    if (dimFactors(key).symbols.some((symbol) => !this.sizes.has(symbol))) return undefined;
    return evaluateDim(key, this.sizes, this.where);
  }

  /** Like `lookup`, but a symbol not bound yet is a ShapeError naming `where` (the node that needs it). */
  resolve(dim: Dim, where: string): number {
    const size = this.lookup(dim);
    if (size === undefined) throw new ShapeError(`${where}: symbolic dimension '${dim}' is not bound by any tensor ${this.tensorsAre} before it.`);
    return size;
  }

  /** Checks a runtime shape against a declared one, binding symbols seen for the first time. */
  match(declared: Shape, actual: readonly number[], origin: string): void {
    if (declared.length !== actual.length || declared.some((dim, axis) => typeof dim === 'number' && dim !== actual[axis])) {
      throw new ShapeError(`${this.where}: ${origin} has shape ${formatShape(actual)}, but the graph declares ${formatShape(declared)}.`);
    }
    // Lone symbols first, so that products such as 'batch*3' are checked against their factors.
    const axes = declared.map((_, axis) => axis).filter((axis) => typeof declared[axis] === 'string');
    axes.sort((p, q) => Number(!isLoneSymbol(declared[p])) - Number(!isLoneSymbol(declared[q])));
    for (const axis of axes) this.bindOrCheck(declared[axis] as string, actual[axis], `${origin} (axis ${axis})`);
  }

  private bindOrCheck(dim: string, size: number, origin: string): void {
    const key = String(mulDims(dim));
    const known = this.lookup(key);
    if (known === undefined) {
      this.sizes.set(key, size);
      this.origins.set(key, origin);
    } else if (known !== size) {
      throw new ShapeError(`${this.where}: symbolic dimension '${dim}' is ${known} in ${this.origins.get(key) ?? 'its factors'} but ${size} in ${origin}; every tensor must agree on it.`);
    }
  }
}
