import { describe, expect, it } from 'vitest';
import { ResultsError } from './errors/index.js';
import { heatmapSpec } from './heatmap-plot.js';
import { renderSvg } from './render-svg.js';

describe('heatmapSpec', () => {
  it('draws one rectangle per entry of every panel, on one colour scale', async () => {
    const identity = [
      [1, 0, 0],
      [0, 1, 0],
    ];
    const spec = heatmapSpec(
      [
        { title: 'first', values: identity },
        { title: 'second', subtitle: 'clipped', values: [[2, -1, 0.5]] },
      ],
      { xTitle: 'Subcomponent', yTitle: 'Input feature', colorTitle: 'CI', domain: [0, 1], clamp: true },
    );
    const concat = (spec as { concat: { data: { values: { value: number }[] }; width: number; height: number }[] }).concat;
    expect(concat.map((chart) => chart.data.values.length)).toEqual([6, 3]);
    expect(concat[1].data.values.map(({ value }) => value)).toEqual([1, 0, 0.5]);
    expect([concat[0].width, concat[0].height]).toEqual([18, 12]);
    const svg = await renderSvg(spec);
    expect(svg.match(/<path[^>]*d="M/g)?.length ?? 0).toBeGreaterThanOrEqual(9);
    expect(svg).toContain('>first</text>');
    expect(svg).toContain('>clipped</text>');
  });

  it('leaves out entries below omitBelow, keeping the panel its full size', () => {
    const spec = heatmapSpec(
      [
        {
          title: 'sparse',
          values: [
            [0, 0.001, 0.9],
            [0.2, 0, 0],
          ],
        },
      ],
      { xTitle: 'x', yTitle: 'y', colorTitle: 'c', domain: [0, 1], omitBelow: 0.01 },
    );
    const chart = (spec as { concat: { data: { values: { x: number; y: number }[] }; width: number }[] }).concat[0];
    expect(chart.data.values.map(({ x, y }) => [x, y])).toEqual([
      [2, 0],
      [0, 1],
    ]);
    expect(chart.width).toBe(18);
  });

  it('makes the domain symmetric about 0 for a diverging scheme', () => {
    const spec = heatmapSpec([{ title: 'W', values: [[-0.5, 2]] }], { xTitle: 'x', yTitle: 'y', colorTitle: 'w', scheme: 'redblue' });
    const chart = (spec as { concat: { encoding: { color: { scale: { domain: number[] } } } }[] }).concat[0];
    expect(chart.encoding.color.scale.domain).toEqual([-2, 2]);
  });

  it('refuses a ragged or empty matrix, naming the panel', () => {
    expect(() => heatmapSpec([{ title: 'ragged', values: [[1, 2], [3]] }], { xTitle: 'x', yTitle: 'y', colorTitle: 'c' })).toThrow(ResultsError);
    expect(() => heatmapSpec([{ title: 'ragged', values: [[1, 2], [3]] }], { xTitle: 'x', yTitle: 'y', colorTitle: 'c' })).toThrow(/'ragged'/);
    expect(() => heatmapSpec([], { xTitle: 'x', yTitle: 'y', colorTitle: 'c' })).toThrow(ResultsError);
  });
});
