import { createHash } from 'node:crypto';
import type { HostTensor } from '@nnd/core';

/**
 * The sha256 of a model's weights: every tensor by name in sorted order,
 * each as its name, dtype, shape and little-endian bytes. A decomposition
 * records it, so that loading it against a changed model fails loudly.
 */
export function weightsSha256(weights: Readonly<Record<string, HostTensor>>): string {
  const hash = createHash('sha256');
  for (const name of Object.keys(weights).sort()) {
    const tensor = weights[name];
    hash.update(`${name}\0${tensor.dtype}\0${tensor.shape.join(',')}\0`);
    const data = tensor.data as ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number };
    hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return hash.digest('hex');
}
