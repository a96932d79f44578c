import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WandbError } from './errors/index.js';
import { startFakeWandbServer } from './fake-wandb-server.test-support.js';
import type { FakeWandbServer, RecordedRun } from './fake-wandb-server.test-support.js';
import { readRunDirectory } from './run-directory.js';
import { createRunDirectorySink } from './run-directory-sink.js';
import { syncRunDirectory } from './wandb-sync.js';

const apiKey = 'k'.repeat(40);
let root: string;
let server: FakeWandbServer;
beforeEach(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'nnd-logging-sync-'));
  server = await startFakeWandbServer({ apiKey, entity: 'lab' });
});
afterEach(async () => {
  await server.close();
  fs.rmSync(root, { recursive: true, force: true });
});

/** A run directory made with W&B off: `steps` rows, a checkpoint at step 0, finished or not. */
async function makeRun(name: string, steps: number, finished: boolean): Promise<string> {
  const sink = createRunDirectorySink({ directory: path.join(root, name) });
  await sink.init({ name, wandb_project: 'saes', lr: 3e-4 });
  for (let step = 0; step < steps; step += 1) sink.log({ loss: step, 'performance/ce_degradation': Number.NaN }, step);
  const checkpoint = sink.checkpointDirectory(0);
  fs.writeFileSync(path.join(checkpoint, 'cfg.json'), '{}');
  fs.mkdirSync(path.join(checkpoint, 'optimizer'));
  fs.writeFileSync(path.join(checkpoint, 'optimizer', 'state.bin'), 'moments');
  // As the trainer records a checkpoint: the directory, not its files.
  sink.artifact('checkpoint_0', [checkpoint], { step: 0 });
  fs.writeFileSync(path.join(root, 'outside.bin'), 'outside');
  fs.mkdirSync(path.join(root, 'outside-dir'), { recursive: true });
  fs.writeFileSync(path.join(root, 'outside-dir', 'inner.txt'), 'inner');
  sink.artifact('extra', [path.join(root, 'outside.bin'), path.join(root, 'outside-dir'), path.join(root, 'deleted.bin')], { note: 'kept' });
  if (finished) await sink.finish({ done: true });
  return sink.directory;
}

const onlyRun = (): RecordedRun => {
  expect(server.runs.size).toBe(1);
  return [...server.runs.values()][0] as RecordedRun;
};

describe('syncRunDirectory', () => {
  it('uploads a finished run made offline: config, every step, summary, files; records the run for next time', async () => {
    const directory = await makeRun('offline', 2_500, true);
    const report = await syncRunDirectory(directory, { baseUrl: server.baseUrl, apiKey, env: {} });
    const run = onlyRun();
    expect(report).toMatchObject({ historyRows: 2_500, finished: true, run: { entity: 'lab', project: 'saes' } });
    expect(report.url).toBe(`${server.baseUrl}/lab/saes/runs/${report.run.runId}`);
    expect(run.displayName).toBe('offline');
    expect(run.config).toEqual({ name: 'offline', wandb_project: 'saes', lr: 3e-4 });
    expect([...run.history.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 2_500 }, (_, index) => index));
    expect(run.history.get(2_499)).toMatchObject({ loss: 2_499, _step: 2_499, 'performance/ce_degradation': 'NaN' });
    expect(run.summary).toMatchObject({ loss: 2_499, done: true });
    expect(run.files.get('checkpoints/step_0/cfg.json')?.toString()).toBe('{}');
    expect(run.files.get('checkpoints/step_0/optimizer/state.bin')?.toString()).toBe('moments');
    expect(JSON.parse(run.files.get('artifacts/checkpoint_0/nnd-artifact.json')?.toString() ?? '{}')).toMatchObject({
      files: ['checkpoints/step_0/cfg.json', 'checkpoints/step_0/optimizer/state.bin'],
      metadata: { step: 0 },
    });
    expect(run.files.get('artifacts/extra/outside.bin')?.toString()).toBe('outside');
    expect(run.files.get('artifacts/extra/outside-dir/inner.txt')?.toString()).toBe('inner');
    expect(JSON.parse(run.files.get('artifacts/extra/nnd-artifact.json')?.toString() ?? '{}')).toMatchObject({ metadata: { note: 'kept' } });
    expect(run.complete).toEqual({ exitcode: 0, uploaded: report.uploadedFiles });
    expect(readRunDirectory(directory).wandbRun).toMatchObject({ runId: report.run.runId, entity: 'lab' });

    // A second sync goes to the same run and overwrites lines by offset: nothing doubles.
    const again = await syncRunDirectory(directory, { baseUrl: server.baseUrl, apiKey, env: {} });
    expect(again.run.runId).toBe(report.run.runId);
    expect(onlyRun().history.size).toBe(2_500);
  });

  it('marks a run that never finished (a crash) complete with exit code 1', async () => {
    const directory = await makeRun('crashed', 10, false);
    const report = await syncRunDirectory(directory, { baseUrl: server.baseUrl, apiKey, env: {} });
    expect(report.finished).toBe(false);
    expect(onlyRun().complete?.exitcode).toBe(1);
  });

  it('throws WandbError after its bounded tries when the server stays down', async () => {
    const directory = await makeRun('down', 3, true);
    server.mode = 'fail';
    const attempt = syncRunDirectory(directory, { baseUrl: server.baseUrl, apiKey, env: {}, attempts: 3, retry: { initialDelayMs: 5 } });
    await expect(attempt).rejects.toThrow(WandbError);
    await expect(attempt).rejects.toMatchObject({ retryable: true, status: 500 });
  });
});
