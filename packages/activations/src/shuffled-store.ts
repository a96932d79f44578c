import { ConfigError, Rng } from '@nnd/core';
import type { HookBatchSource } from './activation-source.js';
import { ShuffleBuffer, type BufferPosition, type ShuffleBufferOptions } from './shuffle-buffer.js';

/**
 * What the live store and the cache reader share: row-aligned batches of
 * several hooks served from one ShuffleBuffer, a position to record in a
 * checkpoint, and `seek` back to it. A store says what fills its buffer from
 * a position (`bufferParts`), how to read a recorded position back
 * (`parsePosition`, JSON from a checkpoint, so untrusted) and how to name it
 * in the log line.
 */
export abstract class ShuffledStore<P> {
  protected buffer!: ShuffleBuffer<P>;
  /** Floats per row of each served hook, in serving order. */
  protected readonly sizes = new Map<string, number>();

  protected constructor(
    readonly batchSize: number,
    private readonly seed: number,
    protected readonly label: string,
    protected readonly log: (message: string) => void,
  ) {}

  /** The producer (continuing from `resume`, or at the beginning) and the sizes of the buffer it fills. */
  protected abstract bufferParts(resume: BufferPosition<P> | undefined): Pick<ShuffleBufferOptions<P>, 'producer' | 'hooks' | 'chunksPerBuffer' | 'maxRowsPerChunk'>;
  /** `value` as a position this store wrote, or a ConfigError that names what is wrong. */
  protected abstract parsePosition(value: unknown, where: string): BufferPosition<P>;
  /** Where a buffer's rows start, for the log line of a seek. */
  protected abstract describeSource(source: P): string;

  get hookPoints(): readonly string[] {
    return [...this.sizes.keys()];
  }

  activationSize(hook: string): number {
    const size = this.sizes.get(hook);
    if (size === undefined) throw new ConfigError(`${this.label} serves ${this.hookPoints.join(', ')}; it has no hook '${hook}'.`);
    return size;
  }

  /** Bytes of one buffer (two exist while the next one fills). */
  get bufferBytes(): number {
    return this.buffer.bufferBytes;
  }

  /** Whether the next buffer is already being filled (filling overlaps consumption). */
  get prefetching(): boolean {
    return this.buffer.prefetching;
  }

  /** The next batch of every served hook, the same rows for each. */
  nextBatches(): Promise<Record<string, Float32Array>> {
    return this.buffer.nextBatches();
  }

  /** The same as `nextBatches()`: a trainer's source of batches keyed by hook (a transcoder's input and target, a CLT's layers). */
  nextBatch(): Promise<Record<string, Float32Array>> {
    return this.nextBatches();
  }

  /** Batches served so far and where to rebuild the current buffer; pass it as `resume`, or to `seek`, to continue. */
  position(): BufferPosition<P> {
    return this.buffer.position();
  }

  /** `position()`, for checkpoints: the trainer records it and passes it back to `seek` on resume. */
  resumePosition(): BufferPosition<P> {
    return this.position();
  }

  /**
   * Continues at batch `batchIndex`: from `position` (what `position()` gave
   * after that many batches, e.g. from a checkpoint) the store fills only
   * the buffer that batch lies in, from its recorded start and RNG state,
   * and skips the rows already served from it; the batches are the ones an
   * uninterrupted store serves. Without a position it serves and drops
   * batches up to `batchIndex`.
   */
  async seek(batchIndex: number, position?: unknown): Promise<void> {
    if (!Number.isSafeInteger(batchIndex) || batchIndex < 0) throw new ConfigError(`${this.label}: seek needs a batch index >= 0, got ${batchIndex}.`);
    this.checkSeekable();
    if (position !== undefined) {
      const resume = this.parsePosition(position, `${this.label}.seek(${batchIndex})`);
      if (resume.batchesServed !== batchIndex) {
        throw new ConfigError(`${this.label}: the recorded position is after ${resume.batchesServed} batches, not ${batchIndex}; pass the position recorded with that batch count.`);
      }
      this.log(`${this.label}: continuing at batch ${batchIndex} from ${this.describeSource(resume.buffer.source)}, row ${resume.rowOffset} of that buffer; one buffer is read again.`);
      this.openBuffer(resume);
      return;
    }
    const served = this.buffer.position().batchesServed;
    if (served > batchIndex) throw new ConfigError(`${this.label}: ${served} batches were served already, so seek(${batchIndex}) cannot go back without a recorded position.`);
    for (let index = served; index < batchIndex; index++) await this.nextBatches();
  }

  /** Serves from `resume` on (a whole buffer read again), or from the beginning. */
  protected openBuffer(resume: BufferPosition<P> | undefined): void {
    const first = this.buffer === undefined;
    this.buffer = new ShuffleBuffer({
      ...this.bufferParts(resume),
      batchSize: this.batchSize,
      rng: new Rng(resume?.buffer.rng ?? this.seed),
      resume,
      label: this.label,
      // The buffer's line was printed when the store opened; a seek's buffer is the same.
      log: first ? this.log : () => undefined,
    });
  }

  /** Throws when the store is in a state a seek would corrupt. */
  protected checkSeekable(): void {}
}

/** One hook of a ShuffledStore as the single-hook source a trainer reads (an SAE's). */
export abstract class OneHookStore<P> implements HookBatchSource {
  readonly activationSize: number;
  readonly batchSize: number;

  protected constructor(
    protected readonly store: ShuffledStore<P>,
    readonly hook: string,
  ) {
    this.activationSize = store.activationSize(hook);
    this.batchSize = store.batchSize;
  }

  /** Bytes of one buffer (two exist while the next one fills). */
  get bufferBytes(): number {
    return this.store.bufferBytes;
  }

  /** Whether the next buffer is already being filled. */
  get prefetching(): boolean {
    return this.store.prefetching;
  }

  async nextBatch(): Promise<Float32Array> {
    return (await this.store.nextBatches())[this.hook];
  }

  /** Continues at batch `batchIndex`, from its recorded `position()` when given (one buffer read again) or by serving and dropping batches. */
  seek(batchIndex: number, position?: unknown): Promise<void> {
    return this.store.seek(batchIndex, position);
  }

  /** `position()`, for checkpoints: the trainer records it and passes it back to `seek` on resume. */
  resumePosition(): BufferPosition<P> {
    return this.position();
  }

  /** Batches served, where the current buffer starts and its RNG state, and rows served from it; pass as `resume`, or to `seek`. */
  position(): BufferPosition<P> {
    return this.store.position();
  }
}
