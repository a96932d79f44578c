import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { DashboardData } from './collect-dashboard.js';
import { writeDashboard } from './write-dashboard.js';

/** Runs a data file as the page would, and returns what it handed to the page's callback. */
function readDataFile(file: string): { name: string; payload: any } {
  let received: { name: string; payload: any } | undefined;
  vm.runInNewContext(fs.readFileSync(file, 'utf8'), { nndDashboardData: (name: string, payload: unknown) => (received = { name, payload }) });
  return received!;
}

const histogram = { log10Low: -6, binsPerDecade: 10, counts: Array.from({ length: 120 }, () => 0), negative: 0 };
const data: DashboardData = {
  architecture: 'topk',
  reads: ['h'],
  writes: ['h'],
  featureCount: 10,
  range: { start: 5, end: 8 },
  tokens: 100,
  features: [5, 6, 7].map((feature) => ({
    feature,
    firings: feature,
    density: feature / 100,
    maxValue: feature,
    histogram,
    top: [{ sequence: 1, start: 0, maxIndex: 1, maxValue: feature, tokens: [3, feature, 4], values: [0, feature, 0] }],
    quantiles: [{ sequence: 2, start: 3, maxIndex: 0, maxValue: 1, tokens: [feature], values: [1], decile: 0 }],
  })),
};

describe('writeDashboard', () => {
  it('writes index.html with the title escaped, and data files in chunks that the page loads as scripts', async () => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'nnd-dashboard-write-'));
    // A stale chunk from a bigger dashboard must not survive.
    fs.mkdirSync(path.join(directory, 'data'), { recursive: true });
    fs.writeFileSync(path.join(directory, 'data', 'chunk-9.js'), 'stale');
    const index = await writeDashboard(data, directory, { title: 'run </title><script>alert(1)</script>', tokenText: (id) => (id === 6 ? '</script>"' : `t${id}`), chunkSize: 2 });
    const html = fs.readFileSync(index, 'utf8');
    expect(html).toContain('<title>run &lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title>');
    // Nothing from the network: the only URL is the SVG namespace, which is a name.
    expect(html.match(/https?:\/\/[^'"\s]*/g)).toEqual(['http://www.w3.org/2000/svg']);
    expect(html).not.toContain('fetch(');
    expect(fs.readdirSync(path.join(directory, 'data')).sort()).toEqual(['chunk-0.js', 'chunk-1.js', 'features.js', 'tokens.js']);
    const features = readDataFile(path.join(directory, 'data', 'features.js'));
    expect(features.name).toBe('features');
    expect(features.payload).toMatchObject({ feature: [5, 6, 7], density: [0.05, 0.06, 0.07], max: [5, 6, 7], range: { start: 5, end: 8 }, chunkSize: 2, valueLabel: 'activation' });
    const tokens = readDataFile(path.join(directory, 'data', 'tokens.js')).payload;
    expect(tokens.text).toEqual({ 3: 't3', 4: 't4', 5: 't5', 6: '</script>"', 7: 't7' });
    // Each feature's top example peaks on the token of its own index.
    expect(tokens.peaks).toEqual({ 5: [5], 6: [6], 7: [7] });
    expect(Object.keys(readDataFile(path.join(directory, 'data', 'chunk-0.js')).payload)).toEqual(['5', '6']);
    const last = readDataFile(path.join(directory, 'data', 'chunk-1.js')).payload;
    expect(last[7].top[0]).toMatchObject({ maxIndex: 1, max: 7, tokens: [3, 7, 4], values: [0, 7, 0] });
    expect(last[7].quantiles[0].decile).toBe(0);
  });
});
