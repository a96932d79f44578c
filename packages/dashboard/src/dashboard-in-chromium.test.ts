import { createOnnxBackend } from '@nnd/backend-onnx';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectDashboard, type DashboardData } from './collect-dashboard.js';
import { ChromiumSession, findChromium } from './chromium-session.test-support.js';
import { DETECTED_TOKEN, randomBatches, tinyModel, tokenDetector } from './token-detector.test-support.js';
import { writeDashboard } from './write-dashboard.js';

/**
 * The dashboard opened from file:// in Debian's Chromium (`apt-get install -y
 * chromium`), driven by real clicks and typing over the DevTools protocol.
 * Where Chromium is missing these tests skip, saying why.
 */
const chromium = findChromium();
const skipReason = chromium === undefined ? ' [skipped: no Chromium found (NND_CHROMIUM, or chromium on PATH); apt-get install -y chromium]' : '';
if (chromium === undefined) console.warn(`dashboard-in-chromium.test.ts${skipReason}`);

/** Words for the tiny model's 24 token ids; one is markup, which must show as text. */
const WORDS = [
  '<bos>',
  ' the',
  ' of',
  ' and',
  ' to',
  ' a',
  ' in',
  ' Congress',
  ' nation',
  ' people',
  ' <b>bold</b>',
  ' year',
  ' we',
  ' our',
  ' shall',
  '\n',
  ' States',
  ' war',
  ' peace',
  ' law',
  ' must',
  ' time',
  ' great',
  '.',
];

let outputDirectory: string;

beforeAll(() => {
  outputDirectory = fs.mkdtempSync(path.join(os.tmpdir(), 'nnd-dashboard-chromium-'));
});

afterAll(() => {
  if (outputDirectory !== undefined) console.info(`dashboards and screenshot kept in ${outputDirectory}`);
});

describe.skipIf(chromium === undefined)(`the dashboard in headless Chromium${skipReason}`, () => {
  it("loads from file://, finds the features that fire on a token, and shows a clicked feature's examples", async () => {
    const backend = createOnnxBackend();
    const model = tinyModel(backend);
    const { decomposition, params, state } = tokenDetector(model, { writes: 'blocks.1.hook_resid_pre' });
    const data = await collectDashboard({ model, decomposition, params, state, batches: randomBatches(4, 8, 32, 1), window: 6, excludedTokenId: 0 });
    await model.dispose();
    const index = await writeDashboard(data, path.join(outputDirectory, 'detector'), { title: 'token detector <script>', tokenText: (id) => WORDS[id]!, chunkSize: 2 });
    const page = await ChromiumSession.open(chromium!, pathToFileURL(index).href);
    try {
      await page.waitFor("document.body.getAttribute('data-ready') === 'true'");
      expect(await page.evaluate('document.querySelector("h1").textContent')).toBe('token detector <script>');
      expect(await page.evaluate('document.querySelectorAll("#list .row").length')).toBe(6);

      await page.type('#search', ' Congress');
      await page.waitFor('document.querySelector("#list-status").textContent.includes("peak")');
      const listed = await page.evaluate<string[]>('[...document.querySelectorAll("#list .row")].map((row) => row.dataset.feature)');
      expect(listed[0]).toBe('0');
      expect(await page.evaluate('document.querySelector("#list-status").textContent')).toMatch(/features peak on 1 token\(s\) exactly " Congress"/);

      // Feature 0 is shown first on load; show another, then click feature 0 in the list.
      await page.evaluate('location.hash = ""');
      await page.click('#list .row[data-feature="0"]');
      await page.waitFor('document.querySelector("#detail").dataset.shown === "0" && document.querySelectorAll(".top-examples .example").length > 0');
      const peaks = await page.evaluate<string[]>('[...document.querySelectorAll(".top-examples .token.peak")].map((token) => token.textContent)');
      expect(peaks).toHaveLength(20);
      expect(new Set(peaks)).toEqual(new Set([WORDS[DETECTED_TOKEN]]));
      expect(await page.evaluate('document.querySelectorAll("#detail svg.histogram rect").length')).toBeGreaterThan(0);
      expect(await page.evaluate('document.querySelector(".top-examples .token.peak").title')).toMatch(/position \d+\nactivation 0\.00/);
      expect(await page.evaluate('location.hash')).toBe('#feature=0');
      // Its direction raises its own token's logit most.
      expect(await page.evaluate('document.querySelector(".logits-raised .token").textContent')).toBe(WORDS[DETECTED_TOKEN]);
      expect(await page.evaluate('document.querySelectorAll(".logits-lowered .logit").length')).toBe(10);

      // A feature of random projections fires on many tokens; markup in token text stays text.
      await page.evaluate('(() => { const s = document.querySelector("#search"); s.value = ""; s.dispatchEvent(new Event("input")); })()');
      await page.type('#search', '3');
      await page.waitFor('document.querySelector("#detail").dataset.shown === "3"');
      expect(await page.evaluate('document.querySelectorAll("#detail b").length')).toBe(0);
      const texts = await page.evaluate<string>('document.querySelector("#detail").textContent');
      expect(texts).toContain('Top activation examples');

      await page.evaluate('(() => { const s = document.querySelector("#search"); s.value = ""; s.dispatchEvent(new Event("input")); })()');
      await page.click('#list .row[data-feature="0"]');
      await page.waitFor('document.querySelector("#detail").dataset.shown === "0"');
      const screenshot = path.join(outputDirectory, 'dashboard.png');
      await page.screenshot(screenshot);
      const bytes = fs.readFileSync(screenshot);
      expect(bytes.subarray(0, 4).toString('latin1')).toBe('\x89PNG');
      expect(bytes.length).toBeGreaterThan(30_000);
      console.info(`dashboard screenshot: ${screenshot}`);
    } finally {
      await page.close();
    }
  }, 120_000);

  it('stays responsive with 100,000 features: a few dozen rows in the DOM, data loaded per feature', async () => {
    const featureCount = 100_000;
    const histogram = { log10Low: -6, binsPerDecade: 10, counts: Array.from({ length: 120 }, (_, bin) => (bin >= 55 && bin < 65 ? bin - 50 : 0)), negative: 0 };
    const example = { sequence: 0, start: 0, maxIndex: 1, maxValue: 2, tokens: [1, 7, 2], values: [0, 2, 0.5] };
    const data: DashboardData = {
      architecture: 'synthetic',
      reads: ['blocks.0.hook_resid_pre'],
      writes: ['blocks.0.hook_resid_pre'],
      featureCount,
      range: { start: 0, end: featureCount },
      tokens: 1000,
      features: Array.from({ length: featureCount }, (_, feature) => ({
        feature,
        firings: feature % 1000,
        density: (feature % 1000) / 1000,
        maxValue: feature / 1000,
        histogram,
        top: feature % 1000 === 0 ? [] : [{ ...example, maxValue: feature / 1000 }],
        quantiles: [],
      })),
    };
    const index = await writeDashboard(data, path.join(outputDirectory, 'large'), { tokenText: (id) => WORDS[id]! });
    const page = await ChromiumSession.open(chromium!, pathToFileURL(index).href);
    try {
      const started = Date.now();
      await page.waitFor("document.body.getAttribute('data-ready') === 'true'");
      const loadMs = Date.now() - started;
      expect(await page.evaluate('document.querySelectorAll("#list .row").length')).toBeLessThan(100);
      // Sort by max activation: feature 99999 comes first.
      await page.evaluate('(() => { const s = document.querySelector("#sort"); s.value = "max"; s.dispatchEvent(new Event("change")); })()');
      expect(await page.evaluate('document.querySelector("#list .row").dataset.feature')).toBe('99999');
      // Scroll to the end of the index order: the last rows are rendered, and still only a few dozen.
      await page.evaluate(
        '(() => { const s = document.querySelector("#sort"); s.value = "index"; s.dispatchEvent(new Event("change")); const l = document.querySelector("#list"); l.scrollTop = l.scrollHeight; l.dispatchEvent(new Event("scroll")); })()',
      );
      await page.waitFor('document.querySelector("#list .row[data-feature=\\"99999\\"]")');
      expect(await page.evaluate('document.querySelectorAll("#list .row").length')).toBeLessThan(100);
      await page.click('#list .row[data-feature="99998"]');
      await page.waitFor('document.querySelector("#detail").dataset.shown === "99998"');
      // Only the chunks of the features shown were loaded (the first feature's on load, then this one's).
      const chunks = await page.evaluate<number>('[...document.querySelectorAll("script[src]")].filter((script) => script.src.includes("chunk-")).length');
      expect(chunks).toBe(2);
      console.info(`100,000 features: ready in ${loadMs} ms`);
      expect(loadMs).toBeLessThan(15_000);
    } finally {
      await page.close();
    }
  }, 180_000);
});
