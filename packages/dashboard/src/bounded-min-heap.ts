/**
 * The `capacity` items with the largest keys seen so far, in a binary
 * min-heap whose root is the smallest kept key: an offer below the root is
 * refused in O(1) without building its item, so a pass over millions of
 * candidates allocates only for the few that enter. Used for a feature's top
 * examples (keyed on a sequence's maximum activation) and, with random keys,
 * for its uniform reservoir of examples.
 */
export class BoundedMinHeap<Item> {
  readonly capacity: number;
  private readonly keys: number[] = [];
  private readonly items: Item[] = [];

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`BoundedMinHeap: capacity must be an integer >= 1, got ${capacity}.`);
    this.capacity = capacity;
  }

  get size(): number {
    return this.keys.length;
  }

  /** Whether an offer with this key would be kept: the heap is not full, or the key beats the smallest kept one (ties keep the earlier item). */
  accepts(key: number): boolean {
    return this.keys.length < this.capacity || key > this.keys[0]!;
  }

  /**
   * Keeps `make(evicted)` under `key` when `accepts(key)`; returns whether it
   * did. `evicted` is the item it replaces when the heap is full (its storage
   * may be reused), undefined otherwise.
   */
  offer(key: number, make: (evicted: Item | undefined) => Item): boolean {
    if (Number.isNaN(key) || !this.accepts(key)) return false;
    const full = this.keys.length === this.capacity;
    const item = make(full ? this.items[0] : undefined);
    if (!full) {
      this.keys.push(key);
      this.items.push(item);
      this.siftUp(this.keys.length - 1);
    } else {
      this.keys[0] = key;
      this.items[0] = item;
      this.siftDown(0);
    }
    return true;
  }

  /** The kept items with their keys, largest key first. */
  sorted(): { key: number; item: Item }[] {
    return this.keys.map((key, index) => ({ key, item: this.items[index]! })).sort((a, b) => b.key - a.key);
  }

  private siftUp(index: number): void {
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (this.keys[parent]! <= this.keys[index]!) return;
      this.swap(index, parent);
      index = parent;
    }
  }

  private siftDown(index: number): void {
    const size = this.keys.length;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < size && this.keys[left]! < this.keys[smallest]!) smallest = left;
      if (right < size && this.keys[right]! < this.keys[smallest]!) smallest = right;
      if (smallest === index) return;
      this.swap(index, smallest);
      index = smallest;
    }
  }

  private swap(a: number, b: number): void {
    const key = this.keys[a]!;
    this.keys[a] = this.keys[b]!;
    this.keys[b] = key;
    const item = this.items[a]!;
    this.items[a] = this.items[b]!;
    this.items[b] = item;
  }
}
