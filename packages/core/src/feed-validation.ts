import { isDeviceTensor, type Feed } from './backend.js';
import { dtypeOfData, sizeOf, type DType, type HostTensor } from './dtype.js';
import { DTypeError } from './errors/dtype-error.js';
import { GraphError } from './errors/graph-error.js';
import { ShapeError } from './errors/shape-error.js';
import { formatShape, type Shape } from './shape.js';

/** What a program expects fed under one name: a graph input's dtype and declared (possibly symbolic) shape. */
export interface InputDescription {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
}

/** Checks that a host tensor's data is the typed array its dtype names, of the length its shape needs. */
export function checkHostTensor(tensor: HostTensor, where: string): void {
  if (!ArrayBuffer.isView(tensor.data) || dtypeOfData(tensor.data) !== tensor.dtype) {
    throw new DTypeError(`${where} says dtype ${tensor.dtype} but holds ${tensor.data?.constructor?.name ?? String(tensor.data)}; use hostTensor() to build it.`);
  }
  if (tensor.data.length !== sizeOf(tensor.shape)) {
    throw new ShapeError(`${where} of shape ${formatShape(tensor.shape)} needs ${sizeOf(tensor.shape)} elements but holds ${tensor.data.length}.`);
  }
}

/**
 * Checks feeds against a program's inputs before a runtime sees them, so that
 * a wrong feed raises a typed error naming the input, not the engine's own
 * status string: every input fed (GraphError), no feed the graph lacks
 * (GraphError), dtypes (DTypeError), ranks and static sizes (ShapeError), each
 * symbolic dimension the same size in every feed that carries it (ShapeError),
 * and a host feed's data matching its dtype and shape. Symbols are compared
 * as written (`'batch*seq'` is its own key here); a backend that also needs
 * products checked against their factors binds them with `SymbolBindings`.
 */
export function validateFeeds(inputs: readonly InputDescription[], feeds: Readonly<Record<string, Feed>>, graphInputNames: ReadonlySet<string>): void {
  // Feeding a superset is fine (one feed dict for several programs of a graph); a name the graph lacks is a typo.
  for (const name of Object.keys(feeds)) {
    if (!graphInputNames.has(name)) {
      throw new GraphError(`Feed '${name}' is not a graph input; the graph has [${[...graphInputNames].join(', ')}].`);
    }
  }
  const symbolSizes = new Map<string, { size: number; input: string }>();
  for (const input of inputs) {
    const feed = Object.hasOwn(feeds, input.name) ? feeds[input.name] : undefined;
    const expected = `${input.dtype} ${formatShape(input.shape)}`;
    if (feed === undefined) {
      throw new GraphError(`Program input '${input.name}' (${expected}) is not fed; the feeds have [${Object.keys(feeds).join(', ')}]. Feed every name in program.inputNames.`);
    }
    if (typeof feed !== 'object' || feed === null || !Array.isArray(feed.shape) || typeof feed.dtype !== 'string') {
      throw new GraphError(`Feed '${input.name}' is ${String(feed)}, not a HostTensor or DeviceTensor; build one with hostTensor().`);
    }
    if (feed.dtype !== input.dtype) {
      throw new DTypeError(`Feed '${input.name}' has dtype ${feed.dtype}, but the program expects ${expected}. Cast it before feeding.`);
    }
    if (feed.shape.length !== input.shape.length) {
      throw new ShapeError(`Feed '${input.name}' has shape ${formatShape(feed.shape)} of rank ${feed.shape.length}, but the program expects ${expected}.`);
    }
    input.shape.forEach((dim, axis) => {
      const size = feed.shape[axis];
      if (typeof dim === 'number') {
        if (size !== dim) {
          throw new ShapeError(`Feed '${input.name}' has shape ${formatShape(feed.shape)}, but the program expects ${expected}: axis ${axis} must be ${dim}, got ${size}.`);
        }
        return;
      }
      const bound = symbolSizes.get(dim);
      if (bound !== undefined && bound.size !== size) {
        throw new ShapeError(`Symbolic dimension '${dim}' is ${bound.size} in feed '${bound.input}' but ${size} in feed '${input.name}'; feeds must agree on it.`);
      }
      symbolSizes.set(dim, { size, input: input.name });
    });
    if (!isDeviceTensor(feed)) checkHostTensor(feed, `Feed '${input.name}'`);
  }
}
