import {
  DTypeError, GraphError, ShapeError, dtypeOfData, formatShape, isDeviceTensor, sizeOf, type Feed, type HostTensor, type Tensor,
} from '@nnd/core';

/** A graph input a program reads, by its name. */
export interface ProgramInput {
  readonly name: string;
  readonly tensor: Tensor;
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
 * Checks feeds against the program's inputs before tfjs sees them, so that a
 * wrong feed raises a typed error naming the input, not a tfjs assertion.
 * Symbols are checked for agreement across feeds here; the interpreter binds
 * them and checks every later tensor.
 */
export function validateFeeds(inputs: readonly ProgramInput[], feeds: Readonly<Record<string, Feed>>, graphInputNames: ReadonlySet<string>): void {
  // Feeding a superset is fine (one feed dict for several programs of a graph); a name the graph lacks is a typo.
  for (const name of Object.keys(feeds)) {
    if (!graphInputNames.has(name)) {
      throw new GraphError(`Feed '${name}' is not a graph input; the graph has [${[...graphInputNames].join(', ')}].`);
    }
  }
  const symbolSizes = new Map<string, { size: number; input: string }>();
  for (const { name, tensor } of inputs) {
    const feed = Object.hasOwn(feeds, name) ? feeds[name] : undefined;
    const expected = `${tensor.dtype} ${formatShape(tensor.shape)}`;
    if (feed === undefined) {
      throw new GraphError(`Program input '${name}' (${expected}) is not fed; the feeds have [${Object.keys(feeds).join(', ')}]. Feed every name in program.inputNames.`);
    }
    if (typeof feed !== 'object' || feed === null || !Array.isArray(feed.shape) || typeof feed.dtype !== 'string') {
      throw new GraphError(`Feed '${name}' is ${String(feed)}, not a HostTensor or DeviceTensor; build one with hostTensor().`);
    }
    if (feed.dtype !== tensor.dtype) {
      throw new DTypeError(`Feed '${name}' has dtype ${feed.dtype}, but the program expects ${expected}. Cast it before feeding.`);
    }
    if (feed.shape.length !== tensor.shape.length) {
      throw new ShapeError(`Feed '${name}' has shape ${formatShape(feed.shape)} of rank ${feed.shape.length}, but the program expects ${expected}.`);
    }
    tensor.shape.forEach((dim, axis) => {
      const size = feed.shape[axis];
      if (typeof dim === 'number') {
        if (size !== dim) throw new ShapeError(`Feed '${name}' has shape ${formatShape(feed.shape)}, but the program expects ${expected}: axis ${axis} must be ${dim}, got ${size}.`);
        return;
      }
      const bound = symbolSizes.get(dim);
      if (bound !== undefined && bound.size !== size) {
        throw new ShapeError(`Symbolic dimension '${dim}' is ${bound.size} in feed '${bound.input}' but ${size} in feed '${name}'; feeds must agree on it.`);
      }
      symbolSizes.set(dim, { size, input: name });
    });
    if (!isDeviceTensor(feed)) checkHostTensor(feed, `Feed '${name}'`);
  }
}
