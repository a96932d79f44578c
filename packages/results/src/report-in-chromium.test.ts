import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChromium, runHeadlessChromium } from './chromium.test-support.js';
import { loadRuns } from './load-runs.js';
import { writeSyntheticSweep } from './synthetic-runs.test-support.js';
import { writeReport } from './write-report.js';

/**
 * The report opened in a real browser. Chromium comes from Debian
 * (`apt-get install -y chromium`); where it is missing these tests skip, and
 * the skip says why, rather than pass without looking.
 */
const chromium = findChromium();
const skipReason = chromium === undefined ? ' [skipped: no Chromium found (NND_CHROMIUM, or chromium on PATH); apt-get install -y chromium]' : '';
if (chromium === undefined) console.warn(`report-in-chromium.test.ts${skipReason}`);

/** Kept after the run (it is a temp folder), so a person can look at the report and the screenshot; its path is printed. The synthetic runs are removed. */
let outputDirectory: string;
let reportUrl: string;
let runCount: number;

beforeAll(async () => {
  if (chromium === undefined) return;
  outputDirectory = fs.mkdtempSync(path.join(os.tmpdir(), 'nnd-results-chromium-'));
  writeSyntheticSweep(path.join(outputDirectory, 'runs'));
  const runs = await loadRuns([{ type: 'directory', directory: path.join(outputDirectory, 'runs') }]);
  runCount = runs.length;
  const report = await writeReport(runs, path.join(outputDirectory, 'report.html'), { generatedAt: new Date('2025-01-01T00:00:00Z') });
  reportUrl = pathToFileURL(report).href;
});

afterAll(() => {
  if (outputDirectory === undefined) return;
  fs.rmSync(path.join(outputDirectory, 'runs'), { recursive: true, force: true });
  console.info(`report and screenshot kept in ${outputDirectory}`);
});

describe.skipIf(chromium === undefined)(`report.html in headless Chromium${skipReason}`, () => {
  it('renders every plot: SVGs with drawn paths and marks in the browser DOM', async () => {
    const dom = await runHeadlessChromium(chromium!, reportUrl, ['--dump-dom']);
    expect(dom).toContain('<h1>SAE training results</h1>');
    const figures = [...dom.matchAll(/<figure id="plot-([a-z0-9-]+)" class="plot">([\s\S]*?)<\/figure>/g)];
    expect(figures.map((figure) => figure[1])).toEqual([
      'normalized-mse-vs-dictionary-size',
      'normalized-mse-vs-l0',
      'ce-degradation-vs-dictionary-size',
      'ce-degradation-vs-l0',
      'explained-variance-vs-l0',
      'training-curves',
      'feature-density',
    ]);
    for (const [, id, body] of figures) {
      expect(body, id).toMatch(/<svg [^>]*width="\d+"/);
      // Drawn paths: a `d` that starts with a move-to and has at least one more command.
      const drawn = [...body!.matchAll(/<path[^>]* d="(M[^"]+)"/g)].filter((match) => /[LAHVCZhvlaz]/.test(match[1]!));
      expect(drawn.length, id).toBeGreaterThan(5);
      expect(body, id).toMatch(/class="mark-(line|symbol|rect) role-mark/);
    }
    const marks = (kind: string) => (dom.match(new RegExp(`class="mark-${kind} role-mark`, 'g')) ?? []).length;
    expect(marks('line')).toBeGreaterThanOrEqual(4 + 6);
    expect(marks('symbol')).toBeGreaterThanOrEqual(5);
    expect(marks('rect')).toBeGreaterThanOrEqual(runCount);
    // The runs table made it through the parser whole.
    expect(dom.match(/<tr>/g)).toHaveLength(1 + runCount);
  });

  it('takes a screenshot of the report', async () => {
    const screenshot = path.join(outputDirectory, 'report.png');
    await runHeadlessChromium(chromium!, reportUrl, [`--screenshot=${screenshot}`, '--window-size=1200,2000']);
    const bytes = fs.readFileSync(screenshot);
    expect(bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
    // Width and height from the IHDR chunk: the window size asked for.
    expect([bytes.readUInt32BE(16), bytes.readUInt32BE(20)]).toEqual([1200, 2000]);
    // A blank or error page compresses to a few kilobytes; text, a table and plots do not.
    expect(bytes.length).toBeGreaterThan(60_000);
  });
});
