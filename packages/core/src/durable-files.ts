import { randomBytes } from 'node:crypto';
import { open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** What `writeFileDurably` writes: one string or byte array, or several written one after another. */
export type DurableFileContents = string | Uint8Array | Iterable<string | Uint8Array>;

export interface WriteFileDurablyOptions {
  /** The temporary file to write first; by default `temporaryPathFor(path)`. Pass it to name it in your own error message. */
  readonly temporaryPath?: string;
}

/**
 * A fresh temporary name beside `path`: `.{name}.{12 hex digits}.tmp`. It is
 * in the same directory because rename is atomic only within one
 * filesystem, and hidden so that listings of finished files skip it. Code
 * that cleans up after a crash may match this pattern.
 */
export function temporaryPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Names that `temporaryPathFor` gives: what `removeStaleTemporaries` may delete. */
const TEMPORARY_NAME = /^\..+\.[0-9a-f]{12}\.tmp$/;

/**
 * Deletes the temporary files that `writeFileDurably` leaves when its
 * process is killed between creating and renaming one (names as
 * `temporaryPathFor` gives them), in `directory` and, with `recursive`, the
 * folders under it (symbolic links are not followed). Call it only while no
 * other process writes there (e.g. holding the directory's lock), since a
 * live writer's temporary file looks the same. Resolves to the paths
 * removed; a missing directory removes nothing.
 */
export async function removeStaleTemporaries(directory: string, options: { readonly recursive?: boolean } = {}): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return [];
    throw error;
  });
  const removed: string[] = [];
  for (const entry of entries) {
    const path = join(directory, entry.name);
    if (entry.isFile() && TEMPORARY_NAME.test(entry.name)) {
      await unlink(path);
      removed.push(path);
    } else if (entry.isDirectory() && options.recursive) removed.push(...(await removeStaleTemporaries(path, options)));
  }
  return removed;
}

/**
 * Writes `path` so that readers, even after a crash or a power loss, see
 * either the old file or the complete new one: the contents go to a
 * temporary file beside it (created exclusively), which is fsynced and
 * closed, renamed over `path`, and then the directory is fsynced so that
 * the rename itself persists. Parts of `contents` are written one by one, so
 * a large file never has to exist in memory as one buffer. On failure the
 * temporary file is removed and the file system's error is thrown unchanged,
 * for the caller to wrap in its own error type.
 */
export async function writeFileDurably(path: string, contents: DurableFileContents, options: WriteFileDurablyOptions = {}): Promise<void> {
  const temporaryPath = options.temporaryPath ?? temporaryPathFor(path);
  try {
    const handle = await open(temporaryPath, 'wx');
    try {
      const parts = typeof contents === 'string' || contents instanceof Uint8Array ? [contents] : contents;
      // writeFile on a handle appends at the current position and, unlike write, never stops short.
      for (const part of parts) await handle.writeFile(part);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporaryPath, path);
  } catch (cause) {
    await unlink(temporaryPath).catch(() => undefined);
    throw cause;
  }
  await syncDirectory(dirname(path));
}

/**
 * Renames `from` (a file or a directory) to `to` durably: `from` is fsynced
 * first, so that what it holds is on disk before its new name is, and the
 * directory of `to` afterwards, so that the rename persists. `to` is
 * replaced if it is a file (POSIX rename); a directory in the way must be
 * moved aside first. Errors of the rename are thrown unchanged.
 */
export async function renameDurably(from: string, to: string): Promise<void> {
  const isDirectory = (await stat(from)).isDirectory();
  if (isDirectory) await syncDirectory(from);
  else await syncFile(from);
  await rename(from, to);
  await syncDirectory(dirname(to));
}

async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Persists a directory's entries; best effort because some platforms cannot open directories. */
async function syncDirectory(directory: string): Promise<void> {
  try {
    await syncFile(directory);
  } catch {
    // The files themselves are already flushed; only directory entries might be lost on power failure.
  }
}
