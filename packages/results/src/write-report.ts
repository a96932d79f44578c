import { writeFileDurably } from '@nnd/core';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ResultsError } from './errors/index.js';
import { renderReport } from './report-html.js';
import type { ReportOptions } from './report-html.js';
import type { RunRecord } from './run-record.js';

/**
 * Writes the report (see `renderReport`) to `outPath`, e.g. `report.html`,
 * creating its folder. The file appears whole: it is written beside the
 * target and renamed over it, so a browser reloading it never sees half.
 * Resolves to the absolute path written.
 */
export async function writeReport(runs: readonly RunRecord[], outPath: string, options: ReportOptions = {}): Promise<string> {
  const target = path.resolve(outPath);
  const html = await renderReport(runs, options);
  try {
    await fs.mkdir(path.dirname(target), { recursive: true });
    await writeFileDurably(target, html);
  } catch (error) {
    throw new ResultsError(`cannot write the report to ${target}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return target;
}
