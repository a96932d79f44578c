import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { SafetensorsError } from '../errors/safetensors-error.js';
import { headerLengthPrefixSize, parseSafetensorsHeader, readSafetensorsHeaderLength } from './parse-safetensors-header.js';
import type { SafetensorsHeader, SafetensorsTensorInfo } from './parse-safetensors-header.js';
import type { SafetensorsTensor } from './tensor.js';

/** A safetensors file opened for lazy reading: only the header is in memory. */
export interface SafetensorsFile {
  readonly path: string;
  readonly metadata: Record<string, string>;
  /** Absolute file offset of the byte buffer; add `dataOffsets` to get file positions. */
  readonly dataStart: number;
  /** Tensor names in byte-buffer order. */
  names(): string[];
  info(name: string): SafetensorsTensorInfo;
  /** Reads only this tensor's byte range into a fresh buffer. */
  read(name: string): Promise<SafetensorsTensor>;
  close(): Promise<void>;
}

// Node rejects single reads above 2 GiB, so large tensors are read in pieces.
const maxReadChunk = 1 << 30;

/** Fills `target` from `position`, looping over short reads; returns how many bytes the file actually had. */
async function readFully(handle: FileHandle, target: Uint8Array, position: number): Promise<number> {
  let filled = 0;
  while (filled < target.length) {
    const length = Math.min(maxReadChunk, target.length - filled);
    const { bytesRead } = await handle.read(target, filled, length, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}

function fileError(path: string, action: string, cause: unknown): SafetensorsError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new SafetensorsError(`cannot ${action} safetensors file ${JSON.stringify(path)}: ${reason}`, { cause });
}

async function readHeader(handle: FileHandle, path: string): Promise<SafetensorsHeader> {
  const { size } = await handle.stat();
  const prefix = new Uint8Array(Math.min(size, headerLengthPrefixSize));
  await readFully(handle, prefix, 0);
  // Validating the length against the file size first keeps a corrupt prefix from triggering a huge allocation.
  const headerLength = readSafetensorsHeaderLength(prefix, size, path);
  const headerBytes = new Uint8Array(headerLengthPrefixSize + headerLength);
  headerBytes.set(prefix);
  const headerBytesRead = await readFully(handle, headerBytes.subarray(headerLengthPrefixSize), headerLengthPrefixSize);
  const end = headerLengthPrefixSize + headerBytesRead;
  return parseSafetensorsHeader(headerBytes.subarray(0, end), size, { source: path });
}

export async function openSafetensors(path: string): Promise<SafetensorsFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (cause) {
    throw fileError(path, 'open', cause);
  }
  let header: SafetensorsHeader;
  try {
    header = await readHeader(handle, path);
  } catch (cause) {
    await handle.close().catch(() => undefined);
    throw cause instanceof SafetensorsError ? cause : fileError(path, 'read the header of', cause);
  }
  let closed = false;

  const info = (name: string): SafetensorsTensorInfo => {
    const found = header.tensors.get(name);
    if (found === undefined) {
      throw new SafetensorsError(`safetensors file ${JSON.stringify(path)} has no tensor ${JSON.stringify(name)}; call names() to list the ` + `${header.tensors.size} tensors it holds`);
    }
    return { dtype: found.dtype, shape: [...found.shape], dataOffsets: [...found.dataOffsets] };
  };

  return {
    path,
    metadata: header.metadata,
    dataStart: header.dataStart,
    names: () => [...header.tensors.keys()],
    info,
    async read(name) {
      const { dtype, shape, dataOffsets } = info(name);
      if (closed) {
        throw new SafetensorsError(`cannot read tensor ${JSON.stringify(name)}: safetensors file ${JSON.stringify(path)} is closed; ` + 'open it again with openSafetensors');
      }
      const [begin, end] = dataOffsets;
      const position = header.dataStart + begin;
      let data: Uint8Array;
      try {
        data = new Uint8Array(end - begin);
      } catch (cause) {
        throw new SafetensorsError(
          `tensor ${JSON.stringify(name)} in ${JSON.stringify(path)} is ${end - begin} bytes, too large for one ` + 'buffer; process it in a runtime with more memory or split the tensor',
          { cause },
        );
      }
      let bytesRead: number;
      try {
        bytesRead = await readFully(handle, data, position);
      } catch (cause) {
        throw fileError(path, `read tensor ${JSON.stringify(name)} from`, cause);
      }
      if (bytesRead !== data.length) {
        throw new SafetensorsError(
          `safetensors file ${JSON.stringify(path)} is truncated: tensor ${JSON.stringify(name)} occupies file bytes ` +
            `${position}..${position + data.length} but the file ended after byte ${position + bytesRead}; ` +
            'was the file modified after it was opened?',
        );
      }
      return { dtype, shape, data };
    },
    async close() {
      if (closed) return;
      closed = true;
      await handle.close().catch((cause: unknown) => {
        throw fileError(path, 'close', cause);
      });
    },
  };
}
