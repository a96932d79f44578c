import { parseSafetensorsHeader } from './parse-safetensors-header.js';
import type { SafetensorsSourceOptions } from './parse-safetensors-header.js';
import type { SafetensorsTensor } from './tensor.js';

export interface SafetensorsContents {
  /** Tensors in byte-buffer order; each `data` is a view into the input bytes. */
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

/** Parses a whole safetensors file held in memory without copying tensor data. */
export function readSafetensors(bytes: Uint8Array, options: SafetensorsSourceOptions = {}): SafetensorsContents {
  const header = parseSafetensorsHeader(bytes, bytes.length, options);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, { dtype, shape, dataOffsets }] of header.tensors) {
    const data = bytes.subarray(header.dataStart + dataOffsets[0], header.dataStart + dataOffsets[1]);
    tensors.set(name, { dtype, shape, data });
  }
  return { tensors, metadata: header.metadata };
}
