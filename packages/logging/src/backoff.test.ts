import { describe, expect, it } from 'vitest';
import { ExponentialBackoff, WakeableSleep } from './backoff.js';

describe('ExponentialBackoff', () => {
  it('doubles from the first delay up to the cap, with at most 25% jitter, and resets', () => {
    const backoff = new ExponentialBackoff({ initialDelayMs: 100, maxDelayMs: 1_000 });
    const delays = Array.from({ length: 6 }, () => backoff.nextDelayMs());
    const bases = [100, 200, 400, 800, 1_000, 1_000];
    delays.forEach((delay, index) => {
      expect(delay).toBeGreaterThanOrEqual(bases[index] as number);
      expect(delay).toBeLessThanOrEqual(Math.min(1_000, (bases[index] as number) * 1.25));
    });
    backoff.reset();
    expect(backoff.nextDelayMs()).toBeLessThanOrEqual(125);
  });
});

describe('WakeableSleep', () => {
  it('ends at its time, or earlier when woken', async () => {
    const sleep = new WakeableSleep();
    const started = performance.now();
    await sleep.sleep(10);
    expect(performance.now() - started).toBeGreaterThanOrEqual(9);
    const forever = sleep.sleep(Infinity);
    expect(sleep.sleeping).toBe(true);
    setTimeout(() => sleep.wake(), 5);
    await forever;
    expect(sleep.sleeping).toBe(false);
  });
});
