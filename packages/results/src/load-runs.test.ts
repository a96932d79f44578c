import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResultsError } from './errors/index.js';
import { loadRuns } from './load-runs.js';
import type { RunSource } from './load-runs.js';
import { writeSyntheticSweep } from './synthetic-runs.test-support.js';
import { FIXTURE_PROJECT, startWandbTestServer } from './wandb-test-server.test-support.js';
import type { WandbTestServer } from './wandb-test-server.test-support.js';

const apiKey = 'c'.repeat(40);
let root: string;
let server: WandbTestServer;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'nnd-results-load-'));
  server = await startWandbTestServer({ apiKey });
});
afterAll(async () => {
  fs.rmSync(root, { recursive: true, force: true });
  await server.close();
});

describe('loadRuns', () => {
  it('loads directories and W&B projects together, in source order', async () => {
    writeSyntheticSweep(path.join(root, 'runs'), [
      { method: 'topk', dictionarySize: 1024, k: 16, rows: 4 },
      { method: 'topk', dictionarySize: 2048, k: 16, rows: 4 },
    ]);
    const runs = await loadRuns([
      { type: 'wandb', project: FIXTURE_PROJECT, apiKey, baseUrl: server.baseUrl, history: false, environment: {} },
      { type: 'directory', directory: path.join(root, 'runs') },
    ]);
    expect(runs.map((run) => run.origin.type)).toEqual(['wandb', 'wandb', 'wandb', 'directory', 'directory']);
    expect(runs.map((run) => run.config.dict_size)).toEqual([12288, 12288, 12288, 1024, 2048]);
  });

  it('loads nothing from no sources', async () => {
    expect(await loadRuns([])).toEqual([]);
  });

  it('throws ResultsError for a source type it does not know', async () => {
    const source = { type: 'mlflow', directory: root } as unknown as RunSource;
    await expect(loadRuns([source])).rejects.toBeInstanceOf(ResultsError);
    await expect(loadRuns([source])).rejects.toThrow(/unknown run source type 'mlflow'/);
  });
});
