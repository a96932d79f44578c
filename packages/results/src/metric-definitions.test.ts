import { describe, expect, it } from 'vitest';
import { METRIC_NAMES } from '@nnd/logging';
import { FEATURE_DENSITY_KEY, METRIC_DEFINITIONS, metricDefinition, metricLabel } from './metric-definitions.js';

describe('METRIC_DEFINITIONS', () => {
  it('explains every metric the trainer logs, and the evaluation metrics', () => {
    const names = METRIC_DEFINITIONS.map((definition) => definition.name);
    expect(names).toEqual(expect.arrayContaining([...METRIC_NAMES]));
    expect(names).toEqual(expect.arrayContaining(['explained_variance', 'normalized_mse', 'dead_fraction', 'dense_fraction', FEATURE_DENSITY_KEY]));
    expect(new Set(names).size).toBe(names.length);
    for (const definition of METRIC_DEFINITIONS) expect(definition.explanation.length).toBeGreaterThan(20);
  });

  it('looks definitions up by name; unknown names label themselves', () => {
    expect(metricDefinition('l0_norm')?.label).toBe('L0');
    expect(metricLabel('performance/ce_degradation')).toBe('CE degradation');
    expect(metricDefinition('loss_3')).toBeUndefined();
    expect(metricLabel('loss_3')).toBe('loss_3');
  });
});
