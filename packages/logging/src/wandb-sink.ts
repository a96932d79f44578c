import * as fs from 'node:fs';
import * as path from 'node:path';
import { LoggingError, WandbError } from './errors/index.js';
import { ExponentialBackoff, WakeableSleep } from './backoff.js';
import type { BackoffOptions } from './backoff.js';
import { messageOf, readJsonFile, writeJsonAtomically } from './crash-safe-files.js';
import { checkLogCall } from './logger.js';
import type { Logger, Summary } from './logger.js';
import { RUN_FILES, readMetricsRows } from './run-directory.js';
import type { WandbRunIdentity } from './run-directory.js';
import { WandbClient } from './wandb-client.js';
import type { RunPath, UploadItem } from './wandb-client.js';
import { artifactUploads, historyLine, summaryLine, wandbConfig } from './wandb-records.js';
import { newRunId, resolveApiKey, resolveBaseUrl, resolveDisplayName, resolveEntity, resolveProject } from './wandb-settings.js';
import type { Environment } from './wandb-settings.js';

export interface WandbSinkOptions {
  /** Default `WANDB_BASE_URL`, else https://api.wandb.ai. */
  baseUrl?: string;
  /** Default `WANDB_API_KEY`, else `~/.netrc` (through @wandb/sdk's login). */
  apiKey?: string;
  /** Default `config.wandb_project`, else `WANDB_PROJECT`, else `uncategorized`. */
  project?: string;
  /** Default `config.wandb_entity`, else `WANDB_ENTITY`, else the key's default entity. */
  entity?: string;
  /** Default `config.name`, else `runName(config)`. */
  displayName?: string;
  /** Default: the id recorded in the run directory (a resumed run), else a new one. */
  runId?: string;
  /** The run directory: the sink records its W&B run there (wandb-run.json) and continues its history after the rows already there. */
  runDirectory?: string;
  /** Default `process.env`. */
  env?: Environment;
  /** Metrics are batched and sent at most this often (default 2 s, like the Python client's file stream). */
  flushIntervalMs?: number;
  /** Each request is aborted after this long (default 30 s). */
  requestTimeoutMs?: number;
  /** `finish` waits this long for the queue to drain, then leaves the rest to `syncRunDirectory` (default 60 s). */
  finishTimeoutMs?: number;
  /** Waits between retries (default 1 s doubling to 60 s). */
  retry?: BackoffOptions;
  /** Rows kept in memory while W&B is unreachable; older ones are dropped from the queue (they stay in the run directory). Default 100 000. */
  maxPendingRows?: number;
  /** History lines per file_stream request (default 1000). */
  maxRowsPerRequest?: number;
  /** Where the one warning line goes (default: stderr). */
  warn?: (line: string) => void;
}

export interface WandbSinkStatus {
  /** `off`: never started (no key) or gave up (the server refused); `retrying`: waiting to try again; `incomplete`: finish timed out. */
  state: 'starting' | 'ok' | 'retrying' | 'done' | 'incomplete' | 'off';
  run: RunPath | undefined;
  pendingRows: number;
  pendingUploads: number;
  droppedRows: number;
  lastError: string | undefined;
}

export interface WandbSink extends Logger {
  status(): WandbSinkStatus;
}

interface PendingRow {
  offset: number;
  line: string;
}

/**
 * Logs to Weights & Biases in the background. `log` and `artifact` only queue
 * (they never wait for the network); one loop sends the queue in order: the
 * run (with its config), batched history lines, artifact files, and the
 * completion mark. A failure prints one warning line, the first time, and
 * the loop retries with exponential backoff; a refusal that retrying cannot
 * fix (a bad key: HTTP 4xx) stops the sink. Training never sees either, and
 * the run directory keeps everything for `syncRunDirectory`.
 */
export function createWandbSink(options: WandbSinkOptions = {}): WandbSink {
  const env = options.env ?? process.env;
  const flushIntervalMs = options.flushIntervalMs ?? 2_000;
  const finishTimeoutMs = options.finishTimeoutMs ?? 60_000;
  const maxPendingRows = options.maxPendingRows ?? 100_000;
  const maxRowsPerRequest = options.maxRowsPerRequest ?? 1_000;
  const warnLine = options.warn ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const runDirectory = options.runDirectory === undefined ? undefined : path.resolve(options.runDirectory);
  const backoff = new ExponentialBackoff(options.retry);
  const sleeper = new WakeableSleep();
  const aborter = new AbortController();

  let state: WandbSinkStatus['state'] = 'starting';
  let initialized = false;
  let client: WandbClient | undefined;
  let identity: WandbRunIdentity | undefined;
  let configText = '{}';
  let startSeconds = Date.now() / 1000;
  let runPath: RunPath | undefined;
  let nextOffset = 0;
  const pendingRows: PendingRow[] = [];
  let droppedRows = 0;
  const summaryValues: Record<string, unknown> = {};
  let summaryDirty = false;
  const pendingUploads: UploadItem[][] = [];
  const uploadedNames: string[] = [];
  let finishing = false;
  let completeSent = false;
  let stopped = false;
  let lastFlushMs = -Infinity;
  let lastError: string | undefined;
  let warned = false;
  // What the loop sleeps for: log wakes it only from an idle sleep, never from a backoff wait.
  let sleepingFor: 'work' | 'flush' | 'backoff' | undefined;
  let loop: Promise<void> | undefined;

  function warnOnce(error: WandbError): void {
    lastError = error.message;
    if (warned) return;
    warned = true;
    const where = runDirectory === undefined ? 'nothing is lost while this process runs' : `everything is in ${runDirectory}; if the upload does not finish, run: nnd wandb-sync ${runDirectory}`;
    const plan = error.retryable ? 'training goes on, retrying in the background' : 'giving up on W&B for this run, training goes on';
    warnLine(`W&B: ${error.message}; ${plan}; ${where}`);
  }

  function stop(finalState: WandbSinkStatus['state']): void {
    stopped = true;
    state = finalState;
    aborter.abort();
    sleeper.wake();
  }

  function recordIdentity(): void {
    if (runDirectory !== undefined && identity !== undefined) writeJsonAtomically(path.join(runDirectory, RUN_FILES.wandbRun), identity);
  }

  type Task = (() => Promise<void>) | { sleepMs: number; reason: 'work' | 'flush' } | 'done';

  function nextTask(nowMs: number): Task {
    const connection = client as WandbClient;
    const ids = identity as WandbRunIdentity;
    if (runPath === undefined) {
      return async () => {
        runPath = await connection.upsertRun({ runId: ids.runId, project: ids.project, entity: ids.entity, displayName: ids.displayName, config: configText }, aborter.signal);
        identity = { ...ids, entity: runPath.entity, project: runPath.project };
        recordIdentity();
      };
    }
    const run = runPath;
    const hasHistory = pendingRows.length > 0 || summaryDirty;
    if (hasHistory && (finishing || nowMs - lastFlushMs >= flushIntervalMs)) {
      return async () => {
        // A contiguous stretch of offsets: the server places `content` from `offset` on.
        const first = pendingRows[0];
        let count = 0;
        while (count < Math.min(pendingRows.length, maxRowsPerRequest) && pendingRows[count]?.offset === (first?.offset ?? 0) + count) count += 1;
        const files: Record<string, { offset: number; content: string[] }> = {
          'wandb-summary.json': { offset: 0, content: [summaryLine(summaryValues)] },
        };
        if (first !== undefined) files['wandb-history.jsonl'] = { offset: first.offset, content: pendingRows.slice(0, count).map((row) => row.line) };
        summaryDirty = false;
        try {
          await connection.fileStream(run, { files }, aborter.signal);
        } catch (error) {
          summaryDirty = true;
          throw error;
        }
        // Rows dropped for space while this request was out may have shifted the queue; remove by offset.
        while (pendingRows.length > 0 && first !== undefined && (pendingRows[0] as PendingRow).offset < first.offset + count) pendingRows.shift();
        lastFlushMs = performance.now();
      };
    }
    if (pendingUploads.length > 0) {
      const batch = pendingUploads[0] as UploadItem[];
      return async () => {
        // The trainer may have deleted an older checkpoint before its turn came; what is gone is skipped, not retried forever.
        const present = batch.filter((item) => item.path === undefined || fs.existsSync(item.path));
        await connection.uploadFiles(run, present, aborter.signal);
        pendingUploads.shift();
        uploadedNames.push(...present.map((item) => item.name));
      };
    }
    if (hasHistory) return { sleepMs: flushIntervalMs - (nowMs - lastFlushMs), reason: 'flush' };
    if (finishing && !completeSent) {
      return async () => {
        await connection.fileStream(run, { complete: true, exitcode: 0, uploaded: uploadedNames }, aborter.signal);
        completeSent = true;
      };
    }
    if (finishing) return 'done';
    return { sleepMs: Infinity, reason: 'work' };
  }

  async function runLoop(): Promise<void> {
    while (!stopped) {
      const task = nextTask(performance.now());
      if (task === 'done') {
        state = 'done';
        return;
      }
      if (typeof task !== 'function') {
        sleepingFor = task.reason;
        await sleeper.sleep(task.sleepMs);
        sleepingFor = undefined;
        continue;
      }
      try {
        await task();
        backoff.reset();
        state = 'ok';
      } catch (caught) {
        if (stopped) return;
        const error = caught instanceof WandbError ? caught : new WandbError(messageOf(caught), { retryable: false, cause: caught });
        warnOnce(error);
        if (!error.retryable) {
          stop('off');
          return;
        }
        state = 'retrying';
        sleepingFor = 'backoff';
        await sleeper.sleep(backoff.nextDelayMs());
        sleepingFor = undefined;
      }
    }
  }

  function wake(from: ReadonlySet<typeof sleepingFor>): void {
    if (from.has(sleepingFor)) sleeper.wake();
  }

  return {
    status() {
      return {
        state,
        run: runPath,
        pendingRows: pendingRows.length,
        pendingUploads: pendingUploads.reduce((sum, batch) => sum + batch.length, 0),
        droppedRows,
        lastError,
      };
    },

    async init(config) {
      if (initialized) throw new LoggingError('init called twice on the W&B sink');
      initialized = true;
      const baseUrl = resolveBaseUrl(options.baseUrl, env);
      const project = resolveProject(options.project, config, env);
      const recorded = runDirectory === undefined ? undefined : (readJsonFile(path.join(runDirectory, RUN_FILES.wandbRun)) as WandbRunIdentity | undefined);
      // A resumed run continues its W&B run, unless it now logs somewhere else.
      const resumed = recorded !== undefined && recorded.baseUrl === baseUrl && recorded.project === project ? recorded : undefined;
      const runId = options.runId ?? resumed?.runId ?? newRunId();
      identity = {
        runId,
        project,
        entity: resolveEntity(options.entity, config, env) ?? resumed?.entity,
        displayName: options.displayName ?? resolveDisplayName(config, runId),
        baseUrl,
      };
      configText = wandbConfig(config);
      startSeconds = Date.now() / 1000;
      // History offsets are row numbers in metrics.jsonl, so a resumed run and a later sync address the same lines.
      nextOffset = runDirectory === undefined ? 0 : readMetricsRows(runDirectory).length;
      recordIdentity();
      let apiKey: string;
      try {
        apiKey = await resolveApiKey(baseUrl, options.apiKey, env);
      } catch (caught) {
        warnOnce(caught as WandbError);
        stop('off');
        return;
      }
      client = new WandbClient({ baseUrl, apiKey, requestTimeoutMs: options.requestTimeoutMs });
      loop = runLoop().catch((caught: unknown) => {
        // The loop catches per task; this is a last guard so that no rejection escapes into training.
        lastError = messageOf(caught);
        state = 'off';
      });
    },

    log(metrics, step) {
      checkLogCall(metrics, step);
      if (!initialized) throw new LoggingError('log called before init on the W&B sink');
      if (stopped) return;
      pendingRows.push({ offset: nextOffset, line: historyLine(step, Date.now() / 1000, startSeconds, metrics) });
      nextOffset += 1;
      if (pendingRows.length > maxPendingRows) {
        pendingRows.shift();
        droppedRows += 1;
      }
      Object.assign(summaryValues, metrics);
      summaryDirty = true;
      wake(WORK);
    },

    artifact(name, files, metadata = {}) {
      if (!initialized) throw new LoggingError('artifact called before init on the W&B sink');
      if (stopped) return;
      pendingUploads.push(
        artifactUploads(
          runDirectory,
          name,
          files.map((file) => path.resolve(file)),
          metadata,
        ),
      );
      wake(WORK_OR_FLUSH);
    },

    async finish(summary: Summary = {}) {
      if (!initialized || loop === undefined || stopped) return;
      Object.assign(summaryValues, summary);
      summaryDirty = true;
      finishing = true;
      // Try at once, even in the middle of a backoff wait.
      sleeper.wake();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), finishTimeoutMs);
      });
      const outcome = await Promise.race([loop.then(() => 'drained' as const), timedOut]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        stop('incomplete');
        await loop;
      }
    },
  };
}

const WORK: ReadonlySet<'work' | 'flush' | 'backoff' | undefined> = new Set(['work']);
const WORK_OR_FLUSH: ReadonlySet<'work' | 'flush' | 'backoff' | undefined> = new Set(['work', 'flush']);
