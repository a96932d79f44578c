import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { TopLevelSpec } from 'vega-lite';
import { ResultsError } from './errors/index.js';
import { renderSvg } from './render-svg.js';

const lineSpec: TopLevelSpec = {
  title: 'A line',
  data: {
    values: [
      { x: 1, y: 2, series: 'a' },
      { x: 2, y: 3, series: 'a' },
      { x: 3, y: 1, series: 'b' },
      { x: 4, y: 2, series: 'b' },
    ],
  },
  mark: { type: 'line', point: true, clip: true },
  encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' }, color: { field: 'series', type: 'nominal' } },
};

describe('renderSvg', () => {
  it('renders in Node without the canvas package: marks as paths, text as text', async () => {
    // The point of the test: no canvas here, so vega must estimate text widths itself.
    expect(() => createRequire(import.meta.url).resolve('canvas')).toThrow();
    const svg = await renderSvg(lineSpec);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toMatch(/<g class="mark-line role-mark/);
    expect(svg).toMatch(/<g class="mark-symbol role-mark/);
    const pathData = [...svg.matchAll(/<path[^>]* d="([^"]*)"/g)].map((match) => match[1]);
    expect(pathData.filter((data) => data !== undefined && /^M[\d.-]/.test(data)).length).toBeGreaterThan(4);
    expect(svg).toContain('>A line</text>');
  });

  it('prefixes ids and the references to them', async () => {
    const svg = await renderSvg(lineSpec, { idPrefix: 'first-' });
    const ids = [...svg.matchAll(/\bid="([^"]+)"/g)].map((match) => match[1]!);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.every((id) => id.startsWith('first-'))).toBe(true);
    for (const [, reference] of svg.matchAll(/url\(#([^)]+)\)/g)) expect(ids).toContain(reference);
  });

  it('refuses a spec that would load data from a URL', async () => {
    const remote: TopLevelSpec = { data: { url: 'https://example.com/data.json' }, mark: 'point', encoding: { x: { field: 'x', type: 'quantitative' } } };
    await expect(renderSvg(remote)).rejects.toBeInstanceOf(ResultsError);
  });

  it('throws ResultsError for a spec vega-lite cannot compile, and for a bad id prefix', async () => {
    await expect(renderSvg({ title: 'Broken', mark: 'nonsense' } as unknown as TopLevelSpec)).rejects.toThrow(/cannot render the plot 'Broken'/);
    await expect(renderSvg(lineSpec, { idPrefix: 'a"b' })).rejects.toThrow(/idPrefix/);
  });
});
