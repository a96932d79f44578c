import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunDirectoryError, createRunDirectorySink } from '@nnd/logging';
import { ResultsError } from './errors/index.js';
import { loadRunDirectories, loadRunDirectory } from './run-directory-source.js';
import { syntheticRunName, writeSyntheticRun, writeSyntheticSweep } from './synthetic-runs.test-support.js';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'nnd-results-directories-'));
});
afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe('loadRunDirectories', () => {
  it('loads every run of a runs/ folder, by name, skipping folders that are not runs', () => {
    writeSyntheticSweep(root, [
      { method: 'topk', dictionarySize: 4096, k: 32 },
      { method: 'batchtopk', dictionarySize: 2048, k: 16 },
    ]);
    fs.mkdirSync(path.join(root, 'not-a-run'));
    const runs = loadRunDirectories(root);
    expect(runs.map((run) => run.config.sae_type)).toEqual(['batchtopk', 'topk']);
    expect(runs[0]!.origin).toEqual({ type: 'directory', directory: path.join(root, syntheticRunName({ method: 'batchtopk', dictionarySize: 2048, k: 16 })) });
  });

  it('loads a single run directory as one run', () => {
    const directory = writeSyntheticRun(root, { method: 'jumprelu', dictionarySize: 1024, k: 32, rows: 5 });
    const runs = loadRunDirectories(directory);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.history.map((row) => row.step)).toEqual([0, 50, 100, 150, 200]);
  });

  it('throws ResultsError for a folder without runs, and for a missing folder', () => {
    expect(() => loadRunDirectories(root)).toThrow(ResultsError);
    expect(() => loadRunDirectories(root)).toThrow(/holds no run/);
    expect(() => loadRunDirectories(path.join(root, 'missing'))).toThrow(/cannot list runs/);
  });
});

describe('loadRunDirectory', () => {
  it('reads config, metrics history and summary; the name is config.name', () => {
    const directory = writeSyntheticRun(root, { method: 'topk', dictionarySize: 4096, k: 32, rows: 3 });
    const run = loadRunDirectory(directory);
    expect(run.name).toBe(syntheticRunName({ method: 'topk', dictionarySize: 4096, k: 32 }));
    expect(run.config).toMatchObject({ sae_type: 'topk', dict_size: 4096, top_k: 32 });
    expect(run.history).toHaveLength(3);
    expect(run.history[2]!.metrics).toHaveProperty('l0_norm', 32);
    expect(run.summary).toHaveProperty('normalized_mse');
  });

  it("reads a directory written by @nnd/logging's run directory sink, including an unfinished one", async () => {
    const directory = path.join(root, 'logged');
    const sink = createRunDirectorySink({ directory });
    await sink.init({ sae_type: 'batchtopk', dict_size: 512, top_k: 8 });
    sink.log({ loss: 2, l0_norm: 8 }, 0);
    sink.log({ loss: Number.NaN, l0_norm: 8.5 }, 10);
    sink.checkpointDirectory(10);
    let run = loadRunDirectory(directory);
    // No config.name: the directory names the run.
    expect(run.name).toBe('logged');
    expect(run.summary).toBeUndefined();
    expect(run.history.map((row) => row.step)).toEqual([0, 10]);
    expect(run.history[1]!.metrics.loss).toBeNaN();
    await sink.finish({ explained_variance: 0.9 });
    run = loadRunDirectory(directory);
    expect(run.summary).toMatchObject({ l0_norm: 8.5, explained_variance: 0.9 });
  });

  it("passes @nnd/logging's RunDirectoryError through for a directory without config.json", () => {
    expect(() => loadRunDirectory(root)).toThrow(RunDirectoryError);
  });
});
