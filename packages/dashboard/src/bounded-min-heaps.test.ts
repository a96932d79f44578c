import { Rng } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { BoundedMinHeap } from './bounded-min-heap.js';
import { BoundedMinHeaps } from './bounded-min-heaps.js';

describe('BoundedMinHeaps', () => {
  it('keeps, evicts and orders exactly as one BoundedMinHeap per heap, with repeated keys, and gives each entry a slot of its own', () => {
    const rng = new Rng(5);
    const [count, capacity] = [7, 20];
    const heaps = new BoundedMinHeaps(count, capacity);
    const reference = Array.from({ length: count }, () => new BoundedMinHeap<number>(capacity));
    // Per heap, which offer each slot holds: the reference's items are offer numbers, so the two must agree.
    const held = Array.from({ length: count }, () => new Int32Array(capacity).fill(-1));
    for (let offer = 0; offer < 20_000; offer++) {
      const heap = rng.int(count);
      // Few distinct keys in some heaps (ties decide), continuous ones in others.
      const key = heap < 3 ? rng.int(40) : rng.next() * 10 - 2;
      expect(heaps.accepts(heap, key)).toBe(reference[heap]!.accepts(key));
      const evicted: number[] = [];
      const kept = reference[heap]!.offer(key, (item) => {
        if (item !== undefined) evicted.push(item);
        return offer;
      });
      const slot = heaps.offer(heap, key);
      expect(slot !== -1).toBe(kept);
      if (slot === -1) continue;
      // A full heap hands back the slot of the very entry the reference evicted.
      if (evicted.length > 0) expect(held[heap]![slot]).toBe(evicted[0]);
      else expect(held[heap]![slot]).toBe(-1);
      held[heap]![slot] = offer;
    }
    for (let heap = 0; heap < count; heap++) {
      expect(heaps.size(heap)).toBe(capacity);
      expect(heaps.sorted(heap).map(({ key, slot }) => ({ key, item: held[heap]![slot]! }))).toEqual(reference[heap]!.sorted());
    }
    expect(heaps.offer(0, Number.NaN)).toBe(-1);
  });

  it('refuses NaN keys while filling, and sizes below 1', () => {
    const heaps = new BoundedMinHeaps(2, 3);
    expect(heaps.offer(1, Number.NaN)).toBe(-1);
    expect(heaps.size(1)).toBe(0);
    expect(() => new BoundedMinHeaps(2, 0)).toThrow(/capacity must be an integer >= 1/);
    expect(() => new BoundedMinHeaps(0, 2)).toThrow(/count must be an integer >= 1/);
  });
});
