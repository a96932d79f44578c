import { existsSync, readFileSync } from 'node:fs';
import { RunDirectoryError } from '@nnd/logging';

/**
 * A run directory's JSON object file (config.json, summary.json), or {} when it is missing: a run
 * still being written, or a bare checkpoint folder, has none. `fix` finishes the error message
 * (e.g. "evaluate the step_N checkpoint folder itself").
 */
export function readRunJson(path: string, fix: string): Record<string, unknown> {
  if (!existsSync(path)) return {};
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new RunDirectoryError(`${path} is not JSON (${cause instanceof Error ? cause.message : String(cause)}); restore it, or ${fix}.`, { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RunDirectoryError(`${path} must hold a JSON object; restore it, or ${fix}.`);
  return value as Record<string, unknown>;
}
