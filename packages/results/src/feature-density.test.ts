import { describe, expect, it } from 'vitest';
import { ResultsError } from './errors/index.js';
import { featureDensityLog10, fractionsFromDensity, readFeatureDensity } from './feature-density.js';
import { FEATURE_DENSITY_KEY } from './metric-definitions.js';

describe('featureDensityLog10', () => {
  it('gives log10 of each firing fraction, null for features that never fired', () => {
    expect(featureDensityLog10([100, 1, 0, 1000], 1000)).toEqual([-1, -3, null, 0]);
  });

  it('survives JSON as the reader expects', () => {
    const written = JSON.parse(JSON.stringify({ [FEATURE_DENSITY_KEY]: [Math.log10(0), -2] })) as Record<string, unknown>;
    expect(readFeatureDensity(written, 'run')).toEqual({ firingLog10: [-2], neverFired: 1, featureCount: 2 });
  });

  it('rejects counts outside 0..tokens and a bad token count', () => {
    expect(() => featureDensityLog10([5], 4)).toThrow(ResultsError);
    expect(() => featureDensityLog10([-1], 4)).toThrow(/feature 0/);
    expect(() => featureDensityLog10([1], 0)).toThrow(/tokenCount/);
  });
});

describe('readFeatureDensity', () => {
  it('is undefined for a run without the field', () => {
    expect(readFeatureDensity(undefined, 'run')).toBeUndefined();
    expect(readFeatureDensity({ loss: 1 }, 'run')).toBeUndefined();
  });

  it('counts null and "-Infinity" as never fired', () => {
    expect(readFeatureDensity({ [FEATURE_DENSITY_KEY]: [-1.5, null, '-Infinity', 0] }, 'run')).toEqual({ firingLog10: [-1.5, 0], neverFired: 2, featureCount: 4 });
  });

  it('throws for a density above 1, a non-number, or a non-array, naming the run and the entry', () => {
    expect(() => readFeatureDensity({ [FEATURE_DENSITY_KEY]: [-1, 0.5] }, 'my-run')).toThrow(/run 'my-run'.*\[1\]/);
    expect(() => readFeatureDensity({ [FEATURE_DENSITY_KEY]: ['x'] }, 'my-run')).toThrow(ResultsError);
    expect(() => readFeatureDensity({ [FEATURE_DENSITY_KEY]: { bins: [] } }, 'my-run')).toThrow(/must be an array/);
  });
});

describe('fractionsFromDensity', () => {
  it('counts dead features and features denser than 10^-1', () => {
    const density = readFeatureDensity({ [FEATURE_DENSITY_KEY]: [null, -0.5, -1, -2, -0.01, null, -3, -4] }, 'run')!;
    // -1 itself is not above the cut.
    expect(fractionsFromDensity(density)).toEqual({ deadFraction: 2 / 8, denseFraction: 2 / 8 });
  });
});
