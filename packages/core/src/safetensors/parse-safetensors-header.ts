import { SafetensorsError } from '../errors/safetensors-error.js';
import { dtypeByteSize, elementCount, formatShape, isSafetensorsDType, isValidShape } from './dtype.js';
import type { SafetensorsDType } from './dtype.js';

/** Same cap as the Python library: a larger header is almost surely corrupt, and we refuse to allocate for it. */
const maxHeaderLength = 100_000_000;

/** Byte length of the little-endian u64 that precedes the JSON header. */
export const headerLengthPrefixSize = 8;

export interface SafetensorsTensorInfo {
  dtype: SafetensorsDType;
  shape: number[];
  /** `[begin, end)` relative to the start of the byte buffer, as written in the header. */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  /** Absolute file offset of the byte buffer: 8 plus the header length. */
  dataStart: number;
  /** Tensors in byte-buffer order. */
  tensors: Map<string, SafetensorsTensorInfo>;
  metadata: Record<string, string>;
}

export interface SafetensorsSourceOptions {
  /** File path or other label used in error messages. */
  source?: string;
}

function where(source: string | undefined): string {
  return source === undefined ? 'safetensors data' : `safetensors file ${JSON.stringify(source)}`;
}

/** Keeps messages short when the offending value is a large chunk of a corrupt header. */
function preview(value: unknown): string {
  if (value === undefined) return '(missing)';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Validates the 8-byte length prefix against the file size before anything is
 * allocated for the header, and returns the header length.
 */
export function readSafetensorsHeaderLength(prefix: Uint8Array, fileSize: number, source?: string): number {
  if (fileSize < headerLengthPrefixSize || prefix.length < headerLengthPrefixSize) {
    throw new SafetensorsError(`${where(source)} is truncated: it is ${fileSize} bytes, shorter than the ${headerLengthPrefixSize}-byte ` + 'header length prefix; re-download or re-export the file');
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, headerLengthPrefixSize);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(maxHeaderLength)) {
    throw new SafetensorsError(`${where(source)}: header length ${headerLength} (bytes 0..8) exceeds the ${maxHeaderLength}-byte limit; ` + 'the file is corrupt or not a safetensors file');
  }
  if (headerLength > BigInt(fileSize - headerLengthPrefixSize)) {
    throw new SafetensorsError(
      `${where(source)}: header length ${headerLength} (bytes 0..8) is larger than the ` +
        `${fileSize - headerLengthPrefixSize} bytes that follow the prefix; the file is truncated or not a safetensors file`,
    );
  }
  return Number(headerLength);
}

function parseMetadata(value: unknown, source: string | undefined): Record<string, string> {
  const fix = 'it must map strings to strings';
  if (!isPlainObject(value)) {
    throw new SafetensorsError(`${where(source)}: "__metadata__" is ${preview(value)}; ${fix}`);
  }
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') {
      throw new SafetensorsError(`${where(source)}: "__metadata__" entry ${preview(key)} is ${preview(entry)}, not a string; ${fix}`);
    }
  }
  // fromEntries defines own properties, so a "__proto__" key stays data rather than replacing the prototype.
  return Object.fromEntries(Object.entries(value)) as Record<string, string>;
}

function parseTensorInfo(name: string, entry: unknown, bufferLength: number, dataStart: number, source: string | undefined): SafetensorsTensorInfo {
  const context = `${where(source)}: tensor ${preview(name)}`;
  if (!isPlainObject(entry)) {
    throw new SafetensorsError(`${context}: header entry is ${preview(entry)}, not an object with dtype, shape and data_offsets`);
  }
  const { dtype, shape, data_offsets: offsets } = entry;
  if (!isSafetensorsDType(dtype)) {
    throw new SafetensorsError(`${context}: unknown dtype ${preview(dtype)}; supported dtypes are F32, F64, F16, BF16, I64, I32, U8, BOOL`);
  }
  if (!isValidShape(shape)) {
    throw new SafetensorsError(`${context}: shape ${preview(shape)} is not an array of non-negative safe integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !isValidShape(offsets)) {
    throw new SafetensorsError(`${context}: data_offsets ${preview(offsets)} is not a pair [begin, end] of non-negative safe integers`);
  }
  const [begin, end] = offsets;
  if (begin > end) {
    throw new SafetensorsError(`${context}: data_offsets [${begin}, ${end}]: begin ${begin} is after end ${end}; begin must not exceed end`);
  }
  if (end > bufferLength) {
    throw new SafetensorsError(
      `${context}: data_offsets [${begin}, ${end}] (file bytes ${dataStart + begin}..${dataStart + end}) extend past ` +
        `the end of the ${bufferLength}-byte byte buffer; the file is truncated (it needs at least ` +
        `${dataStart + end} bytes) or the offsets are wrong`,
    );
  }
  const count = elementCount(shape);
  const expectedBytes = count === undefined ? undefined : count * dtypeByteSize(dtype);
  if (expectedBytes !== end - begin) {
    throw new SafetensorsError(
      `${context}: shape ${formatShape(shape)} with dtype ${dtype} needs ${expectedBytes ?? 'more than 2^53'} bytes ` +
        `but data_offsets [${begin}, ${end}] span ${end - begin}; fix the shape, dtype or offsets`,
    );
  }
  return { dtype, shape, dataOffsets: [begin, end] };
}

/** Rejects overlaps, gaps and trailing bytes, as the Python library does. */
function checkTiling(tensors: Array<[string, SafetensorsTensorInfo]>, bufferLength: number, dataStart: number, source: string | undefined): void {
  let expectedBegin = 0;
  let previousName: string | undefined;
  for (const [name, info] of tensors) {
    const [begin, end] = info.dataOffsets;
    if (begin < expectedBegin) {
      throw new SafetensorsError(
        `${where(source)}: tensor ${preview(name)} data_offsets [${begin}, ${end}] overlap tensor ` +
          `${preview(previousName)} which ends at ${expectedBegin} (file byte ${dataStart + expectedBegin}); ` +
          'each tensor needs its own byte range',
      );
    }
    if (begin > expectedBegin) {
      throw new SafetensorsError(
        `${where(source)}: gap in the byte buffer from ${expectedBegin} to ${begin} (file bytes ` +
          `${dataStart + expectedBegin}..${dataStart + begin}) before tensor ${preview(name)}; tensors must be ` +
          'contiguous, so rewrite the file with a safetensors writer',
      );
    }
    expectedBegin = end;
    previousName = name;
  }
  if (expectedBegin !== bufferLength) {
    throw new SafetensorsError(
      `${where(source)}: ${bufferLength - expectedBegin} trailing bytes after the last tensor (file bytes ` +
        `${dataStart + expectedBegin}..${dataStart + bufferLength}); tensors must cover the byte buffer exactly`,
    );
  }
}

/**
 * Parses and validates a safetensors header. `bytes` starts at file offset 0
 * and holds at least the prefix and the header; `fileSize` is the size of the
 * whole file, against which every offset is checked.
 */
export function parseSafetensorsHeader(bytes: Uint8Array, fileSize: number, options: SafetensorsSourceOptions = {}): SafetensorsHeader {
  const { source } = options;
  const headerLength = readSafetensorsHeaderLength(bytes, fileSize, source);
  const dataStart = headerLengthPrefixSize + headerLength;
  if (bytes.length < dataStart) {
    throw new SafetensorsError(`${where(source)}: only ${bytes.length} header bytes were supplied but the header ends at byte ${dataStart}`);
  }
  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(headerLengthPrefixSize, dataStart));
    header = JSON.parse(text);
  } catch (cause) {
    throw new SafetensorsError(`${where(source)}: header (bytes 8..${dataStart}) is not valid UTF-8 JSON: ${(cause as Error).message}; ` + 'the file is corrupt or not a safetensors file', { cause });
  }
  if (!isPlainObject(header)) {
    throw new SafetensorsError(`${where(source)}: header (bytes 8..${dataStart}) is ${Array.isArray(header) ? 'an array' : preview(header)}, ` + 'not a JSON object mapping tensor names to entries');
  }
  const bufferLength = fileSize - dataStart;
  let metadata: Record<string, string> = {};
  const entries: Array<[string, SafetensorsTensorInfo]> = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') metadata = parseMetadata(entry, source);
    else entries.push([name, parseTensorInfo(name, entry, bufferLength, dataStart, source)]);
  }
  // Zero-length tensors sort before a tensor starting at the same offset, so they are not mistaken for overlaps.
  entries.sort(([, left], [, right]) => {
    return left.dataOffsets[0] - right.dataOffsets[0] || left.dataOffsets[1] - right.dataOffsets[1];
  });
  checkTiling(entries, bufferLength, dataStart, source);
  return { dataStart, tensors: new Map(entries), metadata };
}
