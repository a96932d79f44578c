import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeWandbServer } from './fake-wandb-server.test-support.js';
import type { FakeWandbServer, RecordedRun } from './fake-wandb-server.test-support.js';
import { createLogger } from './create-logger.js';
import { RUN_FILES, readRunDirectory } from './run-directory.js';
import { createWandbSink } from './wandb-sink.js';
import { syncRunDirectory } from './wandb-sync.js';

const apiKey = 'k'.repeat(40);
const config = {
  model_name: 'gpt2-small',
  hook_point: 'blocks.8.hook_resid_pre',
  dict_size: 768,
  sae_type: 'topk',
  top_k: 32,
  lr: 3e-4,
  wandb_project: 'sparse_autoencoders',
};
const displayName = 'gpt2-small_blocks.8.hook_resid_pre_768_topk_32_0.0003';
// Short waits so that retries, flushes and the finish deadline all happen within a test.
const fastWandb = { flushIntervalMs: 20, retry: { initialDelayMs: 20, maxDelayMs: 100 }, requestTimeoutMs: 2_000 };

let root: string;
let servers: FakeWandbServer[];
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'nnd-logging-wandb-'));
  servers = [];
});
afterEach(async () => {
  await Promise.all(servers.map((server) => server.close().catch(() => undefined)));
  fs.rmSync(root, { recursive: true, force: true });
});

async function startServer(port?: number): Promise<FakeWandbServer> {
  const server = await startFakeWandbServer({ apiKey, port });
  servers.push(server);
  return server;
}

const metricsAt = (step: number) => ({ loss: 1 / (step + 1), l0_norm: 32, l2_loss: 0.5, l1_loss: 0.1, l1_norm: 0.2 });
const range = (count: number) => Array.from({ length: count }, (_, index) => index);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function onlyRun(server: FakeWandbServer): RecordedRun {
  expect(server.runs.size).toBe(1);
  return [...server.runs.values()][0] as RecordedRun;
}

function historySteps(run: RecordedRun): number[] {
  return [...run.history.entries()].sort(([a], [b]) => a - b).map(([, line]) => line._step as number);
}

/** A training loop as the trainer runs it, with a checkpoint every 25 steps; returns the slowest log call in ms. */
async function train(logger: ReturnType<typeof createLogger>, from: number, to: number): Promise<number> {
  let slowest = 0;
  for (let step = from; step < to; step += 1) {
    const started = performance.now();
    logger.log(metricsAt(step), step);
    slowest = Math.max(slowest, performance.now() - started);
    if (step % 25 === 0) {
      const directory = logger.checkpointDirectory(step);
      fs.writeFileSync(path.join(directory, 'sae_weights.safetensors'), `weights at ${step}`);
      fs.writeFileSync(path.join(directory, 'cfg.json'), `{"step":${step}}`);
      // The trainer names the checkpoint directory, not its files.
      logger.artifact(`${displayName}_${step}`, [directory], { step });
    }
    // Give the background uploader turns, as a real step's compute would.
    if (step % 10 === 9) await pause(5);
  }
  return slowest;
}

describe('W&B sink against a local server', () => {
  it('creates the run with its config, sends metrics with steps, uploads checkpoint files', async () => {
    const server = await startServer();
    const warnings: string[] = [];
    const logger = createLogger({
      runsDirectory: root,
      console: false,
      wandb: { baseUrl: server.baseUrl, apiKey, warn: (line) => warnings.push(line), ...fastWandb },
      env: {},
    });
    await logger.init(config, { totalSteps: 60 });
    await train(logger, 0, 60);
    await logger.finish({ final: 1 });

    const run = onlyRun(server);
    expect(run).toMatchObject({ entity: 'test-entity', project: 'sparse_autoencoders', displayName });
    expect(run.config).toEqual(config);
    expect(historySteps(run)).toEqual(range(60));
    expect(run.history.get(59)).toMatchObject({ ...metricsAt(59), _step: 59 });
    expect(run.summary).toMatchObject({ loss: 1 / 60, final: 1 });
    expect(run.files.get('checkpoints/step_25/sae_weights.safetensors')?.toString()).toBe('weights at 25');
    expect(run.files.get('checkpoints/step_25/cfg.json')?.toString()).toBe('{"step":25}');
    expect(JSON.parse(run.files.get(`artifacts/${displayName}_50/nnd-artifact.json`)?.toString() ?? '{}')).toMatchObject({
      type: 'model',
      files: ['checkpoints/step_50/cfg.json', 'checkpoints/step_50/sae_weights.safetensors'],
      metadata: { step: 50 },
    });
    expect(run.complete).toMatchObject({ exitcode: 0 });
    expect(run.complete?.uploaded).toContain('checkpoints/step_0/sae_weights.safetensors');
    expect(warnings).toEqual([]);
    expect(logger.wandb?.status()).toMatchObject({ state: 'done', pendingRows: 0, pendingUploads: 0 });
    // The run directory names its W&B run, for a resume or a later sync.
    expect(readRunDirectory(logger.runDirectory).wandbRun).toMatchObject({ project: 'sparse_autoencoders', entity: 'test-entity', baseUrl: server.baseUrl });
  });

  it('rides out a short outage: one warning, then everything arrives', async () => {
    const server = await startServer();
    server.failNext = 4;
    const warnings: string[] = [];
    const sink = createWandbSink({ baseUrl: server.baseUrl, apiKey, warn: (line) => warnings.push(line), env: {}, ...fastWandb });
    await sink.init(config);
    for (let step = 0; step < 40; step += 1) {
      sink.log(metricsAt(step), step);
      if (step % 10 === 9) await pause(20);
    }
    await sink.finish();
    expect(historySteps(onlyRun(server))).toEqual(range(40));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^W&B: W&B answered HTTP 500 .*training goes on, retrying in the background/);
    expect(sink.status().state).toBe('done');
  });

  it('survives 500s and then a closed server without blocking training; syncRunDirectory uploads it all later', async () => {
    const server = await startServer();
    server.mode = 'fail';
    const warnings: string[] = [];
    const logger = createLogger({
      runsDirectory: root,
      console: false,
      wandb: { baseUrl: server.baseUrl, apiKey, warn: (line) => warnings.push(line), finishTimeoutMs: 300, ...fastWandb },
      env: {},
    });
    await logger.init(config, { totalSteps: 200 });
    const slowestWhileFailing = await train(logger, 0, 100);
    expect(server.requestCount).toBeGreaterThan(1);
    await server.close();
    const slowestWhileClosed = await train(logger, 100, 200);
    const finishStarted = performance.now();
    await logger.finish({ final: 1 });
    const finishMs = performance.now() - finishStarted;

    // log() only queues: even on this shared machine a call stays far below a request's time.
    expect(Math.max(slowestWhileFailing, slowestWhileClosed)).toBeLessThan(100);
    expect(finishMs).toBeLessThan(300 + 2_000);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`nnd wandb-sync ${logger.runDirectory}`);
    expect(logger.wandb?.status()).toMatchObject({ state: 'incomplete', pendingRows: 200 });
    expect(logger.wandb?.status().lastError).toMatch(/cannot reach W&B at http:\/\/127\.0\.0\.1/);

    const contents = readRunDirectory(logger.runDirectory);
    expect(contents.metrics.map((row) => row.step)).toEqual(range(200));
    expect(contents.summary).toMatchObject({ final: 1 });
    expect(contents.checkpointSteps).toEqual([0, 25, 50, 75, 100, 125, 150, 175]);

    // The server comes back on the same address; the sync finds the run id the sink recorded.
    const restarted = await startServer(server.port);
    const report = await syncRunDirectory(logger.runDirectory, { baseUrl: restarted.baseUrl, apiKey, env: {}, retry: { initialDelayMs: 10 } });
    const run = onlyRun(restarted);
    expect(report).toMatchObject({ historyRows: 200, finished: true, run: { runId: contents.wandbRun?.runId, entity: 'test-entity' } });
    expect(run.config).toEqual(config);
    expect(run.displayName).toBe(displayName);
    expect(historySteps(run)).toEqual(range(200));
    expect(run.summary).toMatchObject({ loss: 1 / 200, final: 1 });
    for (const step of contents.checkpointSteps) {
      expect(run.files.get(`checkpoints/step_${step}/sae_weights.safetensors`)?.toString()).toBe(`weights at ${step}`);
      expect(run.files.has(`artifacts/${displayName}_${step}/nnd-artifact.json`)).toBe(true);
    }
    expect(run.complete).toMatchObject({ exitcode: 0 });
  });

  it('gives up on a refused key with one warning, and training goes on', async () => {
    const server = await startServer();
    server.mode = 'unauthorized';
    const warnings: string[] = [];
    const sink = createWandbSink({ baseUrl: server.baseUrl, apiKey, warn: (line) => warnings.push(line), env: {}, ...fastWandb });
    await sink.init(config);
    for (let step = 0; step < 30; step += 1) {
      sink.log(metricsAt(step), step);
      if (step % 10 === 9) await pause(20);
    }
    await sink.finish();
    expect(sink.status().state).toBe('off');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/HTTP 401.*giving up on W&B for this run/);
  });

  it('without an API key anywhere, warns once and stays off', async () => {
    const warnings: string[] = [];
    const home = fs.mkdtempSync(path.join(root, 'home-'));
    const previousHome = process.env.HOME;
    const previousKey = process.env.WANDB_API_KEY;
    const stdinIsTerminal = Object.getOwnPropertyDescriptor(process.stdin, 'isTTY');
    // @wandb/sdk's login reads the real environment and ~/.netrc, and prompts on a terminal; point all three at nothing.
    process.env.HOME = home;
    delete process.env.WANDB_API_KEY;
    Object.defineProperty(process.stdin, 'isTTY', { value: false, configurable: true });
    try {
      const sink = createWandbSink({ baseUrl: 'http://127.0.0.1:9', warn: (line) => warnings.push(line), env: {} });
      await sink.init(config);
      sink.log(metricsAt(0), 0);
      await sink.finish();
      expect(sink.status().state).toBe('off');
    } finally {
      process.env.HOME = previousHome;
      if (stdinIsTerminal === undefined) delete (process.stdin as { isTTY?: boolean }).isTTY;
      else Object.defineProperty(process.stdin, 'isTTY', stdinIsTerminal);
      if (previousKey !== undefined) process.env.WANDB_API_KEY = previousKey;
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/no W&B API key/);
  });

  it('resumes the same W&B run, continuing the history after the rows already in the run directory', async () => {
    const server = await startServer();
    const options = { runsDirectory: root, console: false as const, wandb: { baseUrl: server.baseUrl, apiKey, ...fastWandb }, env: {} };
    const first = createLogger(options);
    await first.init(config);
    await train(first, 0, 30);
    await first.finish();
    const second = createLogger(options);
    await second.init(config);
    await train(second, 30, 50);
    await second.finish();
    const run = onlyRun(server);
    expect(run.upserts).toBe(2);
    expect(historySteps(run)).toEqual(range(50));
    expect(fs.existsSync(path.join(second.runDirectory, RUN_FILES.wandbRun))).toBe(true);
  });
});
