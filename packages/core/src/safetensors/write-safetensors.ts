import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SafetensorsError } from '../errors/safetensors-error.js';
import { layoutSafetensors } from './serialize-safetensors.js';
import type { SafetensorsTensors } from './serialize-safetensors.js';

/**
 * Writes a safetensors file atomically: readers see either the old file or
 * the complete new one, never a partial write, even across a crash.
 */
export async function writeSafetensors(
  path: string,
  tensors: SafetensorsTensors,
  metadata?: Record<string, string>,
): Promise<void> {
  // Validate before touching the disk so bad input leaves no temp file behind.
  const { header, ordered } = layoutSafetensors(tensors, metadata);
  const directory = dirname(path);
  // Same directory as the target, because rename is only atomic within one filesystem.
  const temporaryPath = join(directory, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temporaryPath, 'wx');
    try {
      // Tensors are written one by one so the whole file never needs to exist in memory;
      // writeFile on a handle appends at the current position and, unlike write, never stops short.
      await handle.writeFile(header);
      for (const tensor of ordered) await handle.writeFile(tensor.data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporaryPath, path);
  } catch (cause) {
    await unlink(temporaryPath).catch(() => undefined);
    throw new SafetensorsError(
      `cannot write safetensors file ${JSON.stringify(path)} (via temporary file ${JSON.stringify(temporaryPath)}): ` +
        `${cause instanceof Error ? cause.message : String(cause)}; check that the directory exists and is writable`,
      { cause },
    );
  }
  await syncDirectory(directory);
}

/** Persists the rename itself; best effort because some platforms cannot open directories. */
async function syncDirectory(directory: string): Promise<void> {
  try {
    const handle = await open(directory, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // The data is already durable; only the directory entry might be lost on power failure.
  }
}
