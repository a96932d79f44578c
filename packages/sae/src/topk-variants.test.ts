import { hostTensor } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { largestCounter, NO_DEAD_FEATURES, topKVariants } from './topk-forward.js';

const counters = (...values: number[]) => hostTensor('float32', [values.length], values);

describe('topKVariants', () => {
  it('applies without the auxiliary loss while no counter can reach n_batches_to_dead in the next batch, from metrics or from a start state', () => {
    const [variant] = topKVariants({ aux_penalty: 1 / 32, n_batches_to_dead: 5 });
    expect(variant.name).toBe(NO_DEAD_FEATURES);
    expect(variant.applies({ max_batches_not_active: 3 })).toBe(true);
    expect(variant.applies({ max_batches_not_active: 4 })).toBe(false);
    // A fresh state's counters are all 0.
    expect(variant.appliesAtStart?.({ num_batches_not_active: counters(0, 0, 0) })).toBe(true);
    expect(variant.appliesAtStart?.({ num_batches_not_active: counters(0, 3, 1) })).toBe(true);
    expect(variant.appliesAtStart?.({ num_batches_not_active: counters(0, 4, 1) })).toBe(false);
    // A CLT's counters, one per layer: the largest of all of them decides.
    expect(variant.appliesAtStart?.({ num_batches_not_active_0: counters(0, 1), num_batches_not_active_1: counters(4, 0) })).toBe(false);
    // Without a counter nothing says no feature is dead: the full forward.
    expect(variant.appliesAtStart?.({ threshold: counters(9) })).toBe(false);
  });

  it('has no variant when there is no auxiliary loss to skip', () => {
    expect(topKVariants({ aux_penalty: 0, n_batches_to_dead: 5 })).toEqual([]);
  });

  it('largestCounter reads only dead-feature counters', () => {
    expect(largestCounter({ num_batches_not_active: counters(2, 7), threshold: counters(100) })).toBe(7);
    expect(largestCounter({ num_batches_not_active_0: counters(2), num_batches_not_active_12: counters(5) })).toBe(5);
    expect(largestCounter({})).toBe(Number.POSITIVE_INFINITY);
  });
});
