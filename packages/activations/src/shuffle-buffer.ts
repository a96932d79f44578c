import { ConfigError, ShapeError, type NndError, type Rng, type RngState } from '@nnd/core';

/** A run of rows from the producer: one model batch, or one cache shard. */
export interface RowChunk {
  readonly rows: number;
  /** [rows, size] row-major per hook; the buffer empties this record once it has copied the rows, so hand it a record of its own. */
  readonly activations: Readonly<Record<string, Float32Array>>;
  /** Close the buffer after this chunk (the end of a pass over a cache), so passes never mix in one shuffle. */
  readonly endsBuffer?: boolean;
}

/** Where a shuffle buffer's rows come from. */
export interface RowChunkProducer<P> {
  /** The next chunk, or undefined once the data has ended. */
  next(): Promise<RowChunk | undefined>;
  /** Where `next` continues; a producer rebuilt at this position yields the same chunks. */
  position(): P;
  /** The error for a batch requested after the data ended. */
  exhaustedError(): NndError;
}

/**
 * Enough to resume serving exactly where a run stopped: rebuild the buffer
 * being served from `buffer.source` with the RNG at `buffer.rng`, skip
 * `rowOffset` rows of its shuffled order, and count on from `batchesServed`.
 * Plain JSON, for checkpoints.
 */
export interface BufferPosition<P> {
  readonly batchesServed: number;
  readonly buffer: { readonly source: P; readonly rng: RngState };
  readonly rowOffset: number;
}

export interface HookWidth {
  readonly name: string;
  readonly size: number;
}

export interface ShuffleBufferOptions<P> {
  readonly producer: RowChunkProducer<P>;
  readonly hooks: readonly HookWidth[];
  /** Chunks gathered per buffer (the reference's `num_batches_in_buffer`). */
  readonly chunksPerBuffer: number;
  /** Upper bound on a chunk's rows, to allocate the buffer once. */
  readonly maxRowsPerChunk: number;
  readonly batchSize: number;
  /** Shuffles each buffer; its state before a buffer's shuffle is part of the position. */
  readonly rng: Rng;
  /** Resume point (see BufferPosition); the producer must already be at `buffer.source`. */
  readonly resume?: { readonly batchesServed: number; readonly rowOffset: number };
  /** Names the store in the log line. */
  readonly label: string;
  readonly log: (message: string) => void;
}

interface FilledBuffer<P> {
  readonly storage: Record<string, Float32Array>;
  readonly rows: number;
  readonly order: Uint32Array;
  readonly start: { readonly source: P; readonly rng: RngState };
  cursor: number;
}

/**
 * The reference's buffer, shuffled and served: gather `chunksPerBuffer`
 * chunks of rows, permute them with the seeded RNG, hand out `batchSize`
 * rows per batch until the buffer is used up, then move to the next buffer.
 *
 * Two differences, both for training: the next buffer starts filling as
 * soon as the current one is ready (model runs and disk reads are async, so
 * harvesting overlaps the training step), and a buffer's last rows that do
 * not fill a batch are completed from the next buffer instead of being
 * served as a short batch, so every batch has `batchSize` rows (programs
 * are compiled for one batch size, and BatchTopK's k scales with it) and
 * every row is still served exactly once.
 *
 * Memory is two buffers of `chunksPerBuffer * maxRowsPerChunk` rows, reused.
 */
export class ShuffleBuffer<P> {
  readonly capacity: number;
  /** Bytes of one buffer; two exist while the next one fills. */
  readonly bufferBytes: number;
  private current: FilledBuffer<P> | undefined;
  private upcoming: Promise<FilledBuffer<P>> | undefined;
  private readonly spare: Record<string, Float32Array>[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private served: number;
  private readonly initialStart: { source: P; rng: RngState };

  constructor(private readonly options: ShuffleBufferOptions<P>) {
    const { chunksPerBuffer, maxRowsPerChunk, batchSize, hooks } = options;
    for (const [field, value] of Object.entries({ chunksPerBuffer, maxRowsPerChunk, batchSize })) {
      if (!Number.isSafeInteger(value) || value < 1) throw new ConfigError(`${options.label}: ${field} must be a positive integer, got ${value}.`);
    }
    this.capacity = chunksPerBuffer * maxRowsPerChunk;
    const floatsPerRow = hooks.reduce((total, hook) => total + hook.size, 0);
    this.bufferBytes = this.capacity * floatsPerRow * Float32Array.BYTES_PER_ELEMENT;
    this.served = options.resume?.batchesServed ?? 0;
    this.initialStart = { source: options.producer.position(), rng: options.rng.state() };
    const widths = hooks.map((hook) => `${hook.name} ${hook.size}`).join(', ');
    options.log(
      `${options.label}: buffer of ${this.capacity} rows (${chunksPerBuffer} x ${maxRowsPerChunk}) x float32 [${widths}] = ` +
        `${formatBytes(this.bufferBytes)}; the next buffer fills while one is served, so up to ${formatBytes(2 * this.bufferBytes)}; ` +
        `batches of ${batchSize} rows.`,
    );
  }

  /** The next batch: `batchSize` rows per hook, [batchSize, size] row-major. Calls are served in order. */
  nextBatches(): Promise<Record<string, Float32Array>> {
    const result = this.queue.then(() => this.serve());
    this.queue = result.catch(() => undefined);
    return result;
  }

  position(): BufferPosition<P> {
    const { current } = this;
    if (current === undefined) {
      return { batchesServed: this.served, buffer: this.initialStart, rowOffset: this.options.resume?.rowOffset ?? 0 };
    }
    return { batchesServed: this.served, buffer: current.start, rowOffset: current.cursor };
  }

  /** Whether a fill beyond the one being served has started (it starts as soon as the served one is ready). */
  get prefetching(): boolean {
    return this.upcoming !== undefined;
  }

  private async serve(): Promise<Record<string, Float32Array>> {
    const { batchSize, hooks } = this.options;
    if (this.current === undefined) {
      const first = await this.fill(this.allocate());
      first.cursor = Math.min(this.options.resume?.rowOffset ?? 0, first.rows);
      this.current = first;
      this.prefetch();
    }
    const batch: Record<string, Float32Array> = {};
    for (const hook of hooks) batch[hook.name] = new Float32Array(batchSize * hook.size);
    let filled = 0;
    while (filled < batchSize) {
      let current: FilledBuffer<P> = this.current!;
      if (current.cursor === current.rows) {
        // On failure (data exhausted) the spent buffer stays current, so later calls fail the same way.
        const next = await this.upcoming!;
        this.spare.push(current.storage);
        this.current = current = next;
        this.prefetch();
      }
      const take = Math.min(batchSize - filled, current.rows - current.cursor);
      for (const { name, size } of hooks) {
        const source = current.storage[name];
        const target = batch[name];
        for (let index = 0; index < take; index++) {
          const row = current.order[current.cursor + index];
          target.set(source.subarray(row * size, (row + 1) * size), (filled + index) * size);
        }
      }
      current.cursor += take;
      filled += take;
    }
    this.served++;
    return batch;
  }

  /** Starts filling the next buffer now, in the background; its failure surfaces when a batch needs it. */
  private prefetch(): void {
    this.upcoming = this.fill(this.spare.pop() ?? this.allocate());
    this.upcoming.catch(() => undefined);
  }

  private allocate(): Record<string, Float32Array> {
    const storage: Record<string, Float32Array> = {};
    for (const hook of this.options.hooks) storage[hook.name] = new Float32Array(this.capacity * hook.size);
    return storage;
  }

  private async fill(storage: Record<string, Float32Array>): Promise<FilledBuffer<P>> {
    const { producer, rng, hooks, chunksPerBuffer, maxRowsPerChunk } = this.options;
    // Fills run one after another, so the RNG is untouched between this read and this buffer's shuffle.
    const start = { source: producer.position(), rng: rng.state() };
    let rows = 0;
    for (let chunkIndex = 0; chunkIndex < chunksPerBuffer; chunkIndex++) {
      let chunk = await producer.next();
      if (chunk === undefined) break;
      if (chunk.rows > maxRowsPerChunk) {
        throw new ShapeError(`${this.options.label}: a chunk of ${chunk.rows} rows exceeds the ${maxRowsPerChunk} rows the buffer was sized for.`);
      }
      rows = copyChunk(storage, chunk, hooks, rows);
      const ends = chunk.endsBuffer;
      // A suspended async function keeps its variables: the copied chunk would stay alive while the next one is made, two model batches at once.
      chunk = undefined;
      if (ends) break;
    }
    if (rows === 0) throw producer.exhaustedError();
    return { storage, rows, order: rng.permutation(rows), start, cursor: 0 };
  }
}

/**
 * Copies a chunk's rows in at row `rows` and returns the new row count.
 * Then it lets go of the chunk's arrays: a settled promise keeps its value,
 * so a promise of the chunk that is still reachable (V8 can keep the last
 * awaited one in a suspended function's registers) would otherwise keep a
 * whole model batch alive beside the next one.
 */
function copyChunk(storage: Record<string, Float32Array>, chunk: RowChunk, hooks: readonly HookWidth[], rows: number): number {
  for (const { name, size } of hooks) storage[name].set(chunk.activations[name].subarray(0, chunk.rows * size), rows * size);
  const held = chunk.activations as Record<string, Float32Array>;
  for (const name of Object.keys(held)) delete held[name];
  return rows + chunk.rows;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}
