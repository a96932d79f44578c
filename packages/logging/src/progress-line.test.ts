import { describe, expect, it } from 'vitest';
import { formatDuration, formatProgressLine, parseProgressLine } from './progress-line.js';
import type { ProgressLine } from './progress-line.js';

describe('progress lines', () => {
  it('prints the documented format', () => {
    const line = formatProgressLine({
      completedSteps: 120,
      totalSteps: 1000,
      stepsPerSecond: 35.2,
      etaSeconds: 25,
      metrics: { loss: 0.12345, l0_norm: 32 },
    });
    expect(line).toBe('step 120/1000 (12.0%) 35.2 steps/s ETA 25s loss=0.1235 l0_norm=32.0000');
  });

  it('parses what it prints, including unknowns and non-finite values', () => {
    const cases: ProgressLine[] = [
      { completedSteps: 1, totalSteps: 1000, stepsPerSecond: undefined, etaSeconds: undefined, metrics: { loss: 2.5 } },
      { completedSteps: 7, totalSteps: undefined, stepsPerSecond: 3.5, etaSeconds: undefined, metrics: {} },
      { completedSteps: 999, totalSteps: 1000, stepsPerSecond: 120.5, etaSeconds: 3725, metrics: { loss: Number.NaN, 'performance/ce_degradation': Infinity, l1_norm: -Infinity } },
    ];
    for (const progress of cases) expect(parseProgressLine(formatProgressLine(progress))).toEqual(progress);
  });

  it('rounds metrics to 4 decimals, rate to 1, ETA to whole seconds', () => {
    const parsed = parseProgressLine(formatProgressLine({ completedSteps: 5, totalSteps: 10, stepsPerSecond: 1.26, etaSeconds: 3.6, metrics: { loss: 0.123456 } }));
    expect(parsed).toEqual({ completedSteps: 5, totalSteps: 10, stepsPerSecond: 1.3, etaSeconds: 4, metrics: { loss: 0.1235 } });
  });

  it('returns undefined for other lines, so a mixed log can be scanned', () => {
    expect(parseProgressLine('W&B: cannot reach W&B; training goes on')).toBeUndefined();
    expect(parseProgressLine('step 1/10 (10.0%) 1.0 steps/s ETA soon loss=1')).toBeUndefined();
    expect(parseProgressLine('step 1/10 (10.0%) 1.0 steps/s ETA 9s loss=abc')).toBeUndefined();
    expect(parseProgressLine('step 1/10 (10.0%) 1.0 steps/s ETA 9s\r')).toMatchObject({ completedSteps: 1 });
  });

  it('formats durations as s, m and h', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(59.4)).toBe('59s');
    expect(formatDuration(245)).toBe('4m05s');
    expect(formatDuration(3725)).toBe('1h02m05s');
  });
});
