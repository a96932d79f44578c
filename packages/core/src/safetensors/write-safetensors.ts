import { temporaryPathFor, writeFileDurably } from '../durable-files.js';
import { SafetensorsError } from '../errors/safetensors-error.js';
import { layoutSafetensors } from './serialize-safetensors.js';
import type { SafetensorsTensors } from './serialize-safetensors.js';

/**
 * Writes a safetensors file atomically and durably (core's writeFileDurably):
 * readers see either the old file or the complete new one, never a partial
 * write, even across a crash.
 */
export async function writeSafetensors(path: string, tensors: SafetensorsTensors, metadata?: Record<string, string>): Promise<void> {
  // Validate before touching the disk so bad input leaves no temp file behind.
  const { header, ordered } = layoutSafetensors(tensors, metadata);
  const temporaryPath = temporaryPathFor(path);
  try {
    // Tensors are written one by one so the whole file never needs to exist in memory.
    await writeFileDurably(path, [header, ...ordered.map((tensor) => tensor.data)], { temporaryPath });
  } catch (cause) {
    throw new SafetensorsError(
      `cannot write safetensors file ${JSON.stringify(path)} (via temporary file ${JSON.stringify(temporaryPath)}): ` +
        `${cause instanceof Error ? cause.message : String(cause)}; check that the directory exists and is writable`,
      { cause },
    );
  }
}
