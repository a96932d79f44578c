import { Rng } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { BoundedMinHeap } from './bounded-min-heap.js';

describe('BoundedMinHeap', () => {
  it('keeps exactly the true top 20 of random data, largest first', () => {
    const rng = new Rng(7);
    for (const count of [5, 20, 21, 1000, 25_000]) {
      const values = Array.from({ length: count }, () => rng.normal(1)[0]! * 3);
      const heap = new BoundedMinHeap<number>(20);
      values.forEach((value, index) => heap.offer(value, () => index));
      const expected = values
        .map((value, index) => ({ key: value, item: index }))
        .sort((a, b) => b.key - a.key)
        .slice(0, 20);
      expect(heap.sorted(), `${count} values`).toEqual(expected);
    }
  });

  it('keeps the top 20 when keys repeat, and builds items only for offers it keeps', () => {
    const rng = new Rng(3);
    const heap = new BoundedMinHeap<number>(20);
    let built = 0;
    const values = Array.from({ length: 5000 }, () => rng.int(50));
    values.forEach((value, index) =>
      heap.offer(value, () => {
        built++;
        return index;
      }),
    );
    expect(heap.sorted().map(({ key }) => key)).toEqual([...values].sort((a, b) => b - a).slice(0, 20));
    // Only offers that entered built an item: far fewer than the candidates.
    expect(built).toBeLessThan(500);
    expect(heap.accepts(-1)).toBe(false);
    expect(heap.offer(Number.NaN, () => -1)).toBe(false);
  });

  it('refuses a capacity below 1', () => {
    expect(() => new BoundedMinHeap(0)).toThrow(/capacity must be an integer >= 1/);
  });
});
