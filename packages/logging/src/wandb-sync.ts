import * as fs from 'node:fs';
import * as path from 'node:path';
import { WandbError } from './errors/index.js';
import { ExponentialBackoff } from './backoff.js';
import type { BackoffOptions } from './backoff.js';
import { writeJsonAtomically } from './crash-safe-files.js';
import { RUN_FILES, listFilesUnder, readRunDirectory } from './run-directory.js';
import type { WandbRunIdentity } from './run-directory.js';
import { WandbClient } from './wandb-client.js';
import type { RunPath, UploadItem } from './wandb-client.js';
import { artifactUploads, historyLine, runUrl, summaryLine, wandbConfig } from './wandb-records.js';
import { newRunId, resolveApiKey, resolveBaseUrl, resolveDisplayName, resolveEntity, resolveProject } from './wandb-settings.js';
import type { Environment } from './wandb-settings.js';

export interface SyncOptions {
  /** Default `WANDB_BASE_URL`, else https://api.wandb.ai. */
  baseUrl?: string;
  /** Default `WANDB_API_KEY`, else `~/.netrc`. */
  apiKey?: string;
  /** Default: the project recorded in the run directory, else `config.wandb_project`, else `WANDB_PROJECT`, else `uncategorized`. */
  project?: string;
  /** Default: the recorded entity, else `config.wandb_entity`, else `WANDB_ENTITY`, else the key's default. */
  entity?: string;
  /** Default `process.env`. */
  env?: Environment;
  /** Tries per request before giving up (default 5). */
  attempts?: number;
  /** Waits between tries (default 1 s doubling to 60 s). */
  retry?: BackoffOptions;
  /** Each request is aborted after this long (default 30 s). */
  requestTimeoutMs?: number;
  /** History lines per file_stream request (default 1000). */
  maxRowsPerRequest?: number;
}

export interface SyncReport {
  run: RunPath;
  url: string;
  historyRows: number;
  uploadedFiles: string[];
  /** Whether the run had finished (summary.json); an unfinished (crashed) run is marked complete with exit code 1. */
  finished: boolean;
}

/** Run files per RunUploadUrls request. */
const UPLOADS_PER_REQUEST = 50;

/**
 * Uploads a run directory to W&B after the fact (`nnd wandb-sync <dir>`): the
 * run with its config, every metrics row at its row number (so rows that the
 * live sink already sent are overwritten, not doubled), the summary, the
 * checkpoint files and artifacts, then marks the run complete. Reuses the W&B
 * run recorded in the directory, if any. Throws `WandbError` when a request
 * still fails after `attempts` tries.
 */
export async function syncRunDirectory(directory: string, options: SyncOptions = {}): Promise<SyncReport> {
  const env = options.env ?? process.env;
  const runDirectory = path.resolve(directory);
  const contents = readRunDirectory(runDirectory);
  const baseUrl = resolveBaseUrl(options.baseUrl, env);
  const recorded = contents.wandbRun?.baseUrl === baseUrl ? contents.wandbRun : undefined;
  const project = options.project ?? recorded?.project ?? resolveProject(undefined, contents.config, env);
  const runId = recorded?.project === project ? recorded.runId : newRunId();
  let identity: WandbRunIdentity = {
    runId,
    project,
    entity: options.entity ?? (recorded?.project === project ? recorded.entity : undefined) ?? resolveEntity(undefined, contents.config, env),
    displayName: recorded?.displayName ?? resolveDisplayName(contents.config, runId),
    baseUrl,
  };
  const identityFile = path.join(runDirectory, RUN_FILES.wandbRun);
  writeJsonAtomically(identityFile, identity);

  const client = new WandbClient({ baseUrl, apiKey: await resolveApiKey(baseUrl, options.apiKey, env), requestTimeoutMs: options.requestTimeoutMs });
  const attempts = options.attempts ?? 5;
  const retrying = <T>(task: () => Promise<T>) => withRetries(task, attempts, new ExponentialBackoff(options.retry));

  const run = await retrying(() => client.upsertRun({ runId, project, entity: identity.entity, displayName: identity.displayName, config: wandbConfig(contents.config) }));
  identity = { ...identity, entity: run.entity, project: run.project };
  writeJsonAtomically(identityFile, identity);

  const rows = contents.metrics;
  const startSeconds = rows[0]?.time ?? 0;
  const summary: Record<string, unknown> = {};
  for (const row of rows) Object.assign(summary, row.metrics);
  Object.assign(summary, contents.summary ?? {});
  const maxRows = options.maxRowsPerRequest ?? 1_000;
  for (let offset = 0; offset < rows.length || offset === 0; offset += maxRows) {
    const content = rows.slice(offset, offset + maxRows).map((row) => historyLine(row.step, row.time, startSeconds, row.metrics));
    const files: Record<string, { offset: number; content: string[] }> = {};
    if (content.length > 0) files['wandb-history.jsonl'] = { offset, content };
    // The summary rides on the last request.
    if (offset + maxRows >= rows.length) files['wandb-summary.json'] = { offset: 0, content: [summaryLine(summary)] };
    await retrying(() => client.fileStream(run, { files }));
  }

  const uploads = new Map<string, UploadItem>();
  for (const file of listFilesUnder(path.join(runDirectory, RUN_FILES.checkpoints))) {
    const name = `${RUN_FILES.checkpoints}/${file}`;
    uploads.set(name, { name, path: path.join(runDirectory, RUN_FILES.checkpoints, ...file.split('/')) });
  }
  for (const record of contents.artifacts) {
    const files = record.files.map((file) => path.resolve(runDirectory, file)).filter((file) => fs.existsSync(file));
    for (const item of artifactUploads(runDirectory, record.name, files, record.metadata)) uploads.set(item.name, item);
  }
  const items = [...uploads.values()];
  for (let start = 0; start < items.length; start += UPLOADS_PER_REQUEST) {
    const batch = items.slice(start, start + UPLOADS_PER_REQUEST);
    await retrying(() => client.uploadFiles(run, batch));
  }

  const finished = contents.summary !== undefined;
  const uploadedFiles = items.map((item) => item.name);
  await retrying(() => client.fileStream(run, { complete: true, exitcode: finished ? 0 : 1, uploaded: uploadedFiles }));
  return { run, url: runUrl(baseUrl, run.entity, run.project, run.runId), historyRows: rows.length, uploadedFiles, finished };
}

async function withRetries<T>(task: () => Promise<T>, attempts: number, backoff: ExponentialBackoff): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await task();
    } catch (error) {
      if (!(error instanceof WandbError) || !error.retryable || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, backoff.nextDelayMs()));
    }
  }
}
