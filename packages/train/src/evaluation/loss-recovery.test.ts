import { describe, expect, it } from 'vitest';
import { lossRecovery } from './loss-recovery.js';

describe('lossRecovery', () => {
  it('follows the reference: degradation = original − reconstructed, recovery = (reconstructed − ablated) / (original − ablated)', () => {
    const recovery = lossRecovery({ original: 3, reconstructed: 3.5, zeroAblation: 8, meanAblation: 5 });
    expect(recovery.ceDegradation).toBe(-0.5);
    expect(recovery.recoveryFromZero).toBeCloseTo((3.5 - 8) / (3 - 8), 15);
    expect(recovery.recoveryFromMean).toBeCloseTo((3.5 - 5) / (3 - 5), 15);
  });

  it('gives 1 for a perfect splice and 0 for one as bad as the ablation', () => {
    expect(lossRecovery({ original: 2, reconstructed: 2, zeroAblation: 6, meanAblation: 4 })).toEqual({ ceDegradation: 0, recoveryFromZero: 1, recoveryFromMean: 1 });
    const asBadAsZero = lossRecovery({ original: 2, reconstructed: 6, zeroAblation: 6, meanAblation: 4 });
    expect(asBadAsZero.recoveryFromZero).toBe(-0);
    expect(asBadAsZero.recoveryFromMean).toBe(-1);
  });

  it('passes a zero denominator through as the reference does (non-finite), instead of hiding it', () => {
    const recovery = lossRecovery({ original: 2, reconstructed: 2.5, zeroAblation: 2, meanAblation: 2 });
    expect(recovery.recoveryFromZero).toBe(Infinity);
    expect(lossRecovery({ original: 2, reconstructed: 2, zeroAblation: 2, meanAblation: 2 }).recoveryFromMean).toBeNaN();
  });
});
