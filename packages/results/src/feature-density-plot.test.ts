import { describe, expect, it } from 'vitest';
import { ResultsError } from './errors/index.js';
import { featureDensitySpec } from './feature-density-plot.js';

interface Chart {
  title: { text: string; subtitle: string };
  layer: [{ data: { values: { start: number; end: number; count: number }[] } }, unknown];
}

function chartsOf(spec: unknown): Chart[] {
  return (spec as { concat: Chart[] }).concat;
}

describe('featureDensitySpec', () => {
  it('counts features into bins over a range shared by every run, up to density 1', () => {
    const spec = featureDensitySpec(
      [
        { label: 'a', color: '#000', density: { firingLog10: [-0.1, -0.3, -1.6, 0], neverFired: 1, featureCount: 5 } },
        { label: 'b', color: '#111', density: { firingLog10: [-2.9], neverFired: 0, featureCount: 1 } },
      ],
      { binWidth: 0.5 },
    );
    const [first, second] = chartsOf(spec);
    const bins = first!.layer[0].data.values;
    // -2.9 sets the range: six bins of 0.5 from -3 to 0, the same for both runs.
    expect(bins.map((bin) => bin.start)).toEqual([-3, -2.5, -2, -1.5, -1, -0.5]);
    expect(second!.layer[0].data.values.map((bin) => bin.start)).toEqual(bins.map((bin) => bin.start));
    // Density 1 (log10 0) falls in the last bin.
    expect(bins.map((bin) => bin.count)).toEqual([0, 0, 1, 0, 0, 3]);
    expect(first!.title).toEqual({ text: 'a', subtitle: '5 features; 1 never fired (20%)' });
  });

  it('is undefined for no runs and rejects a bad bin width', () => {
    expect(featureDensitySpec([])).toBeUndefined();
    expect(() => featureDensitySpec([], { binWidth: 0 })).toThrow(ResultsError);
  });
});
