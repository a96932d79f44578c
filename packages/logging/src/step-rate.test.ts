import { describe, expect, it } from 'vitest';
import { StepRate } from './step-rate.js';

describe('StepRate', () => {
  it('is unknown until two samples, then steps per second over the window only', () => {
    const rate = new StepRate(3);
    expect(rate.stepsPerSecond()).toBeUndefined();
    rate.record(0, 0);
    expect(rate.stepsPerSecond()).toBeUndefined();
    // A slow first step (compilation) ...
    rate.record(1, 10_000);
    rate.record(2, 10_100);
    rate.record(3, 10_200);
    // ... has left the window of 3: 2 steps in 200 ms.
    expect(rate.stepsPerSecond()).toBeCloseTo(10, 6);
  });
});
