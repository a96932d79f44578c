import { LoggingError } from './errors/index.js';
import { describe, expect, it } from 'vitest';
import { METRIC_NAMES, PROGRESS_METRICS, suffixMetrics } from './metric-names.js';

describe('metric names', () => {
  it("are the reference's", () => {
    expect(METRIC_NAMES).toContain('n_dead_in_batch');
    expect(METRIC_NAMES).toContain('performance/recovery_from_mean');
    expect(PROGRESS_METRICS.map(({ label }) => label)).toEqual(['Loss', 'L0', 'L2', 'L1', 'L1_norm']);
  });

  it('get the group index as a suffix, every one of them', () => {
    expect(suffixMetrics({ loss: 1, 'performance/ce_degradation': 0.5 }, 3)).toEqual({ loss_3: 1, 'performance/ce_degradation_3': 0.5 });
    expect(() => suffixMetrics({ loss: 1 }, -1)).toThrow(LoggingError);
  });
});
