import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { bytesPerElement, sizeOf, type DeviceTensor } from '@nnd/core';

/**
 * Host memory that the trainer disposes of in one step at least this large is
 * handed back by a full garbage collection before the next step runs.
 */
export const RELEASE_MIN_BYTES = 64 * 1024 * 1024;

/** Bytes of the tensors that live in host memory ('cpu'); GPU buffers are freed by dispose() itself. */
export function hostBytesOf(tensors: Iterable<DeviceTensor>): number {
  let bytes = 0;
  for (const tensor of tensors) {
    if (tensor.location !== 'cpu') continue;
    bytes += sizeOf(tensor.shape) * bytesPerElement(tensor.dtype);
  }
  return bytes;
}

let collect: (() => void) | null | undefined;

/**
 * A full V8 collection, so that the host memory of tensors the trainer has
 * disposed of is freed now rather than whenever V8 gets to it.
 *
 * A CPU tensor's data is an ArrayBuffer (onnxruntime-node copies every output
 * into a new one), which only the garbage collector frees: dispose() can only
 * drop the reference. Left to V8, the parameters and Adam moments a step
 * replaces (226 MB for a TopK SAE at GPT-2-small size), and after the first
 * step the start tensors, stayed alive through the next step's run, so its
 * intermediates were placed beside them and the heap's high-water mark rose
 * by as much. A full collection costs 10-30 ms at that size, against a step
 * of about 700 ms, and is skipped for less than RELEASE_MIN_BYTES.
 *
 * `gc` is exposed the way jest's leak detector does it when Node was not
 * started with --expose-gc; where that is refused, nothing is collected.
 */
export function releaseHostMemory(): void {
  if (collect === undefined) collect = exposedGc();
  collect?.();
}

function exposedGc(): (() => void) | null {
  const existing = (globalThis as { gc?: unknown }).gc;
  if (typeof existing === 'function') return existing as () => void;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    setFlagsFromString('--no-expose-gc');
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}
