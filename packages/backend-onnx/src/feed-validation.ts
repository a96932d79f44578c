import {
  DTypeError, GraphError, ShapeError, dtypeOfData, formatShape, isDeviceTensor, sizeOf, type Feed,
} from '@nnd/core';
import type { OnnxValueInfo } from './compile-to-onnx.js';

/**
 * Checks feeds against the model's inputs before onnxruntime sees them, so
 * that a wrong feed raises a typed error naming the input, not an ORT
 * status string.
 */
export function validateFeeds(
  inputs: readonly OnnxValueInfo[],
  feeds: Readonly<Record<string, Feed>>,
  graphInputNames: ReadonlySet<string>,
): void {
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
      throw new GraphError(
        `Program input '${input.name}' (${expected}) is not fed; the feeds have [${Object.keys(feeds).join(', ')}]. Feed every name in program.inputNames.`,
      );
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
    if (!isDeviceTensor(feed)) {
      if (!ArrayBuffer.isView(feed.data) || dtypeOfData(feed.data) !== feed.dtype) {
        throw new DTypeError(`Feed '${input.name}' says dtype ${feed.dtype} but holds ${feed.data?.constructor?.name ?? String(feed.data)}; use hostTensor() to build it.`);
      }
      if (feed.data.length !== sizeOf(feed.shape)) {
        throw new ShapeError(`Feed '${input.name}' of shape ${formatShape(feed.shape)} needs ${sizeOf(feed.shape)} elements but holds ${feed.data.length}.`);
      }
    }
  }
}
