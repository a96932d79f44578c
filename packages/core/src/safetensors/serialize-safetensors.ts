import { SafetensorsError } from '../errors/safetensors-error.js';
import { headerLengthPrefixSize } from './parse-safetensors-header.js';
import { checkSafetensorsTensor } from './tensor.js';
import type { SafetensorsTensor } from './tensor.js';

export type SafetensorsTensors = Record<string, SafetensorsTensor> | ReadonlyMap<string, SafetensorsTensor>;

export interface SafetensorsLayout {
  /** Length prefix, JSON header and space padding: everything before the byte buffer. */
  header: Uint8Array;
  /** Tensors in the order their bytes follow the header. */
  ordered: SafetensorsTensor[];
  /** Size of the complete file. */
  byteLength: number;
}

function checkMetadata(metadata: Record<string, string>): void {
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') {
      throw new SafetensorsError(
        `metadata entry ${JSON.stringify(key)} is a ${typeof value}; safetensors metadata maps strings to strings, ` + 'so convert the value with String() or JSON.stringify()',
      );
    }
  }
}

/** Computes the header and data order shared by the in-memory and file writers. */
export function layoutSafetensors(tensors: SafetensorsTensors, metadata: Record<string, string> = {}): SafetensorsLayout {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  // Sorting by name makes the output independent of insertion order, as the Python library's is.
  entries.sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0));
  checkMetadata(metadata);
  // Built by hand because JSON.stringify of an object would move integer-like names ahead of the sorted order.
  const fields: string[] = [];
  if (Object.keys(metadata).length > 0) fields.push(`"__metadata__":${JSON.stringify(metadata)}`);
  let offset = 0;
  for (const [name, tensor] of entries) {
    if (name === '__metadata__') {
      throw new SafetensorsError('tensor name "__metadata__" is reserved for the header metadata; rename the tensor');
    }
    checkSafetensorsTensor(tensor, `tensor ${JSON.stringify(name)}`);
    const end = offset + tensor.data.length;
    const entry = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, end] };
    fields.push(`${JSON.stringify(name)}:${JSON.stringify(entry)}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${fields.join(',')}}`);
  // Padding to 8 bytes keeps the byte buffer 8-aligned so readers can view F64/I64 data in place.
  const paddedLength = Math.ceil(json.length / 8) * 8;
  const header = new Uint8Array(headerLengthPrefixSize + paddedLength).fill(0x20);
  new DataView(header.buffer).setBigUint64(0, BigInt(paddedLength), true);
  header.set(json, headerLengthPrefixSize);
  return { header, ordered: entries.map(([, tensor]) => tensor), byteLength: header.length + offset };
}

/** Encodes tensors and metadata as a complete safetensors file in memory. */
export function serializeSafetensors(tensors: SafetensorsTensors, metadata?: Record<string, string>): Uint8Array {
  const { header, ordered, byteLength } = layoutSafetensors(tensors, metadata);
  const bytes = new Uint8Array(byteLength);
  bytes.set(header);
  let offset = header.length;
  for (const tensor of ordered) {
    bytes.set(tensor.data, offset);
    offset += tensor.data.length;
  }
  return bytes;
}
