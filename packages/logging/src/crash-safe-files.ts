import * as fs from 'node:fs';
import { temporaryPathFor } from '@nnd/core';
import { RunDirectoryError } from './errors/index.js';

/**
 * An append-only JSON-lines file that a crash cannot corrupt in the middle.
 * The file is opened with O_APPEND and each line goes out in one write(2), so
 * a killed process leaves whole lines; only a torn write at the very end (a
 * power loss, a full disk) can leave a partial last line, which `open` cuts
 * off before appending so that it never ends up between two whole lines.
 */
export class JsonLinesAppender {
  private constructor(
    readonly file: string,
    private descriptor: number | undefined,
  ) {}

  static open(file: string): JsonLinesAppender {
    try {
      cutPartialLastLine(file);
      return new JsonLinesAppender(file, fs.openSync(file, 'a'));
    } catch (error) {
      throw new RunDirectoryError(`cannot open ${file} for appending: ${messageOf(error)}`, { cause: error });
    }
  }

  /** Appends `text` (one line, without its newline). */
  appendLine(text: string): void {
    if (this.descriptor === undefined) throw new RunDirectoryError(`${this.file} is already closed`);
    const bytes = Buffer.from(`${text}\n`, 'utf8');
    try {
      let written = fs.writeSync(this.descriptor, bytes);
      // A regular file takes the whole buffer in one call; the loop only matters on a nearly full disk.
      while (written < bytes.length) written += fs.writeSync(this.descriptor, bytes, written);
    } catch (error) {
      throw new RunDirectoryError(`cannot append to ${this.file}: ${messageOf(error)}`, { cause: error });
    }
  }

  /** Flushes to the disk and closes. */
  close(): void {
    if (this.descriptor === undefined) return;
    const descriptor = this.descriptor;
    this.descriptor = undefined;
    try {
      fs.fsyncSync(descriptor);
    } finally {
      fs.closeSync(descriptor);
    }
  }
}

/** Truncates `file` after its last newline, if something follows it. A missing file is fine. */
function cutPartialLastLine(file: string): void {
  if (!fs.existsSync(file)) return;
  const size = fs.statSync(file).size;
  if (size === 0) return;
  const descriptor = fs.openSync(file, 'r+');
  try {
    // Read backwards in blocks to find the last newline without reading the whole file.
    const block = Buffer.alloc(64 * 1024);
    let end = size;
    while (end > 0) {
      const start = Math.max(0, end - block.length);
      const length = end - start;
      fs.readSync(descriptor, block, 0, length, start);
      const newline = block.subarray(0, length).lastIndexOf(0x0a);
      if (newline >= 0) {
        const keep = start + newline + 1;
        if (keep < size) fs.ftruncateSync(descriptor, keep);
        return;
      }
      end = start;
    }
    fs.ftruncateSync(descriptor, 0);
  } finally {
    fs.closeSync(descriptor);
  }
}

/**
 * Every JSON value in a JSON-lines file, in order. A partial last line (no
 * newline after it, from a crash mid-write) is left out; any other line that
 * is not JSON means something else wrote the file, and throws.
 */
export function readJsonLines(file: string): unknown[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (isMissing(error)) return [];
    throw new RunDirectoryError(`cannot read ${file}: ${messageOf(error)}`, { cause: error });
  }
  const lines = text.split('\n');
  // After the last newline: empty for a whole file, else a partial line.
  lines.pop();
  return lines.map((line, index) => {
    try {
      return JSON.parse(line) as unknown;
    } catch (error) {
      throw new RunDirectoryError(`${file} line ${index + 1} is not JSON (${messageOf(error)}); lines are only ever appended whole, so another program changed this file`, { cause: error });
    }
  });
}

/**
 * Writes JSON through a temporary file and a rename, so readers see the old
 * file or the new one, never half of one. The file is flushed before the
 * rename, so that after a power loss the new name never points at an empty
 * file.
 */
export function writeJsonAtomically(file: string, value: unknown): void {
  const temporary = temporaryPathFor(file);
  try {
    fs.writeFileSync(temporary, `${JSON.stringify(value, null, 2)}\n`, { flush: true });
    fs.renameSync(temporary, file);
  } catch (error) {
    throw new RunDirectoryError(`cannot write ${file}: ${messageOf(error)}`, { cause: error });
  }
}

/** The JSON in `file`, or `undefined` when it does not exist. */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw new RunDirectoryError(`cannot read ${file}: ${messageOf(error)}`, { cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new RunDirectoryError(`${file} is not JSON: ${messageOf(error)}`, { cause: error });
  }
}

function isMissing(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'ENOENT';
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
