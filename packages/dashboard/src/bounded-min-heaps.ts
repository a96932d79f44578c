/**
 * Many `BoundedMinHeap`s of one capacity in flat typed arrays: per heap, its
 * keys and the slot (0 to capacity - 1) each kept entry occupies, so the
 * caller stores entries' data in its own arrays at (heap, slot). The
 * dashboard keeps two heaps per feature and offers each tens of thousands of
 * times per batch, mostly refused: with one object per heap and per entry,
 * each offer chased several pointers to scattered memory; here a refusal
 * reads one number. Same keeping and tie rules, and the same order in
 * `sorted`, as BoundedMinHeap (the equality test holds them to it).
 */
export class BoundedMinHeaps {
  readonly count: number;
  readonly capacity: number;
  private readonly keys: Float64Array;
  private readonly slots: Int32Array;
  private readonly sizes: Int32Array;

  constructor(count: number, capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`BoundedMinHeaps: capacity must be an integer >= 1, got ${capacity}.`);
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`BoundedMinHeaps: count must be an integer >= 1, got ${count}.`);
    this.count = count;
    this.capacity = capacity;
    this.keys = new Float64Array(count * capacity);
    this.slots = new Int32Array(count * capacity);
    this.sizes = new Int32Array(count);
  }

  size(heap: number): number {
    return this.sizes[heap]!;
  }

  /** Whether an offer with this key would be kept: the heap is not full, or the key beats its smallest (ties keep the earlier entry). */
  accepts(heap: number, key: number): boolean {
    return this.sizes[heap]! < this.capacity || key > this.keys[heap * this.capacity]!;
  }

  /**
   * Keeps `key` when `accepts` it and returns the slot its entry takes (the
   * evicted entry's slot when the heap is full, else the next free one);
   * -1 when refused.
   */
  offer(heap: number, key: number): number {
    const { capacity, keys, slots } = this;
    const base = heap * capacity;
    const size = this.sizes[heap]!;
    if (size < capacity) {
      if (Number.isNaN(key)) return -1;
      keys[base + size] = key;
      slots[base + size] = size;
      this.sizes[heap] = size + 1;
      // Sift up.
      let index = size;
      while (index > 0) {
        const parent = (index - 1) >> 1;
        if (keys[base + parent]! <= keys[base + index]!) break;
        this.swap(base + index, base + parent);
        index = parent;
      }
      return size;
    }
    if (!(key > keys[base]!)) return -1;
    const slot = slots[base]!;
    keys[base] = key;
    // Sift down.
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < capacity && keys[base + left]! < keys[base + smallest]!) smallest = left;
      if (right < capacity && keys[base + right]! < keys[base + smallest]!) smallest = right;
      if (smallest === index) break;
      this.swap(base + index, base + smallest);
      index = smallest;
    }
    return slot;
  }

  /** The heap's entries, largest key first (equal keys in the order BoundedMinHeap.sorted gives them). */
  sorted(heap: number): { key: number; slot: number }[] {
    const base = heap * this.capacity;
    return Array.from({ length: this.sizes[heap]! }, (_, index) => ({ key: this.keys[base + index]!, slot: this.slots[base + index]! })).sort((a, b) => b.key - a.key);
  }

  private swap(a: number, b: number): void {
    const { keys, slots } = this;
    const key = keys[a]!;
    keys[a] = keys[b]!;
    keys[b] = key;
    const slot = slots[a]!;
    slots[a] = slots[b]!;
    slots[b] = slot;
  }
}
