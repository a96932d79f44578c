import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRIC_DEFINITIONS } from './metric-definitions.js';
import { renderReport } from './report-html.js';
import type { RunRecord } from './run-record.js';
import { loadRunDirectories } from './run-directory-source.js';
import { writeSyntheticSweep } from './synthetic-runs.test-support.js';

let root: string;
let runs: RunRecord[];
let html: string;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'nnd-results-report-'));
  writeSyntheticSweep(root, [
    { method: 'topk', dictionarySize: 1024, k: 32, rows: 12 },
    { method: 'topk', dictionarySize: 2048, k: 32, rows: 12 },
    { method: 'batchtopk', dictionarySize: 1024, k: 32, rows: 12 },
    { method: 'batchtopk', dictionarySize: 2048, k: 32, rows: 12, finished: false },
  ]);
  runs = loadRunDirectories(root);
  html = await renderReport(runs, { title: 'Sweep <1>', generatedAt: new Date('2025-01-02T03:04:05Z') });
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe('renderReport', () => {
  it('is self-contained: no scripts, no external stylesheets, images, fonts or links', () => {
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|@font-face|\bsrc=/i);
    // The only URLs are the SVG namespace names, which browsers never fetch.
    const urls = [...html.matchAll(/https?:\/\/[^\s"'<>)]+/g)].map((match) => match[0]);
    expect(new Set(urls)).toEqual(new Set(['http://www.w3.org/2000/svg', 'http://www.w3.org/1999/xlink']));
  });

  it('has the title, the run table and every section, in order', () => {
    expect(html).toContain('<title>Sweep &lt;1&gt;</title>');
    expect(html).toContain('4 runs from');
    expect(html).toContain('generated 2025-01-02 03:04:05 UTC');
    const headings = [...html.matchAll(/<h2>([^<]+)<\/h2>/g)].map((match) => match[1]);
    expect(headings).toEqual(['Runs', 'Sweeps', 'Sparsity and fidelity', 'Training curves', 'Feature density', 'Metrics']);
    expect(html.match(/<tr>/g)).toHaveLength(1 + runs.length);
  });

  it('inlines one SVG per plot with data, with ids unique in the page', () => {
    expect(html.match(/<svg /g)).toHaveLength(7);
    const ids = [...html.matchAll(/\bid="([^"]+)"/g)].map((match) => match[1]);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('explains every metric', () => {
    for (const definition of METRIC_DEFINITIONS) expect(html).toContain(`<code>${definition.name}</code>`);
  });

  it('renders a report of no runs, saying what is missing', async () => {
    const empty = await renderReport([]);
    expect(empty).toContain('No runs were loaded.');
    expect(empty).not.toContain('<svg');
    expect(empty.match(/class="empty"/g)).toHaveLength(8);
  });
});
