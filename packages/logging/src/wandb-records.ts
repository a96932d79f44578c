import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Metrics, RunConfig } from './logger.js';
import { listFilesUnder } from './run-directory.js';
import type { UploadItem } from './wandb-client.js';

/** The config as the Python client sends it: each key wrapped as `{"desc": null, "value": ...}`, which is what the W&B UI reads. */
export function wandbConfig(config: RunConfig): string {
  const wrapped: Record<string, { desc: null; value: unknown }> = {};
  for (const [key, value] of Object.entries(config)) wrapped[key] = { desc: null, value };
  return JSON.stringify(wrapped);
}

/**
 * One `wandb-history.jsonl` line: the metrics with `_step`, `_runtime`
 * (seconds since the run started) and `_timestamp` (Unix seconds). Non-finite
 * values are written as the bare `NaN` / `Infinity` the Python client sends.
 */
export function historyLine(step: number, timeSeconds: number, startSeconds: number, metrics: Metrics): string {
  return flatJson({ ...metrics, _step: step, _runtime: Math.max(0, timeSeconds - startSeconds), _timestamp: timeSeconds });
}

/** The `wandb-summary.json` content. */
export function summaryLine(summary: Record<string, unknown>): string {
  return flatJson(summary);
}

function flatJson(record: Record<string, unknown>): string {
  const entries = Object.entries(record).map(([key, value]) => {
    const text = typeof value === 'number' && !Number.isFinite(value) ? String(value) : JSON.stringify(value ?? null);
    return `${JSON.stringify(key)}:${text}`;
  });
  return `{${entries.join(',')}}`;
}

/**
 * The run files of one artifact. W&B's `createArtifact` protocol is not in
 * @wandb/sdk, so an artifact goes up as run files: those inside the run
 * directory keep their path there (`checkpoints/step_100/sae_weights.safetensors`),
 * others go under `artifacts/<name>/`; `artifacts/<name>/nnd-artifact.json`
 * keeps the name, the file list and the metadata. A directory (a checkpoint is
 * one) stands for every file under it, each keeping its path below the
 * directory's name.
 */
export function artifactUploads(
  runDirectory: string | undefined,
  name: string,
  /** Absolute paths. */
  files: readonly string[],
  metadata: Record<string, unknown>,
): UploadItem[] {
  const safeName = name.replaceAll('/', '__');
  const items = files.flatMap((file): UploadItem[] => {
    const absolute = path.resolve(file);
    const relative = runDirectory === undefined ? undefined : path.relative(runDirectory, absolute);
    const inside = relative !== undefined && relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
    const name = inside ? relative.split(path.sep).join('/') : `artifacts/${safeName}/${path.basename(absolute)}`;
    if (!isDirectory(absolute)) return [{ name, path: absolute }];
    return listFilesUnder(absolute).map((below) => ({ name: `${name}/${below}`, path: path.join(absolute, ...below.split('/')) }));
  });
  const manifest = { name, type: 'model', files: items.map((item) => item.name), metadata };
  items.push({ name: `artifacts/${safeName}/nnd-artifact.json`, content: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`) });
  return items;
}

function isDirectory(file: string): boolean {
  try {
    return fs.statSync(file).isDirectory();
  } catch {
    // A missing file stays an upload item; the uploader reports it by name.
    return false;
  }
}

/** The run's page, as @wandb/sdk builds it (`api.wandb.ai` becomes `wandb.ai`). */
export function runUrl(baseUrl: string, entity: string, project: string, runId: string): string {
  return `${baseUrl.replace('api.wandb', 'wandb')}/${entity}/${project}/runs/${runId}`;
}
