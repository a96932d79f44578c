import { Rng } from '@nnd/core';
import { BoundedMinHeaps } from './bounded-min-heaps.js';

/** A window of tokens around one sequence's maximum for a feature, with the feature's value at every token. */
export interface FeatureExample {
  /** The sequence's index among all sequences collected (batch after batch, row after row). */
  readonly sequence: number;
  /** Position in the sequence of the window's first token. */
  readonly start: number;
  /** Index into `tokens` of the maximum. */
  readonly maxIndex: number;
  readonly maxValue: number;
  readonly tokens: Int32Array | readonly number[];
  readonly values: Float32Array | readonly number[];
}

/** Log-spaced bins of the non-zero values' magnitudes. */
export interface ActivationHistogram {
  /** log10 of the lower edge of bin 0; bin i covers [10^(low + i/perDecade), 10^(low + (i+1)/perDecade)). */
  readonly log10Low: number;
  readonly binsPerDecade: number;
  /** Values below the first edge count in bin 0, above the last in the last bin. */
  readonly counts: readonly number[];
  /** Non-zero values that were negative (their magnitudes are binned with the rest). */
  readonly negative: number;
}

export interface FeatureStatistics {
  /** The feature's index in the decomposition (not in the collected range). */
  readonly feature: number;
  /** Tokens on which the feature was non-zero. */
  readonly firings: number;
  /** firings / tokens. */
  readonly density: number;
  /** The largest value seen (0 when it never fired positive). */
  readonly maxValue: number;
  readonly histogram: ActivationHistogram;
  /** The sequences with the largest maxima, largest first; only sequences whose maximum is > 0. */
  readonly top: readonly FeatureExample[];
  /** A uniform sample of the sequences where it fired, by increasing maximum, each with its decile (0-9) within the sample. */
  readonly quantiles: readonly (FeatureExample & { readonly decile: number })[];
}

export interface FeatureCollectorOptions {
  /** The decomposition's index of the first collected feature (column 0 of the values given to `add`). */
  readonly firstFeature: number;
  /** Features collected: the columns of the values given to `add`. */
  readonly features: number;
  /** Top examples per feature (default 20). */
  readonly topExamples?: number;
  /** Examples sampled per feature for the quantiles (default 20: two per decile). */
  readonly quantileExamples?: number;
  /** Tokens kept on each side of the maximum (default 16). */
  readonly window?: number;
  /** Positions holding this token id are left out of every statistic (BOS, whose activations are outliers). */
  readonly excludedTokenId?: number;
  /** Seed of the reservoir sampling (default 0). */
  readonly seed?: number;
}

/** The histogram's range: 1e-6 to 1e6 in tenths of a decade covers float32 activations of any usual scale. */
const LOG10_LOW = -6;
const BINS_PER_DECADE = 10;
const BINS = 12 * BINS_PER_DECADE;

/** Features whose slabs share one allocation (see FeatureCollector's `slab`): 64 x 10.6 KiB at the defaults. */
const SLAB_CHUNK = 64;

/**
 * Streams batches of feature values ([positions, features] row-major, with
 * the batch's tokens) into bounded per-feature state: the top examples (a
 * min-heap keyed on each sequence's maximum), a uniform reservoir of firing
 * sequences (a min-heap keyed on a random number per candidate) for quantile
 * examples, firing counts and a histogram. Memory is features x (top +
 * quantile examples) x window, whatever the number of tokens.
 */
export class FeatureCollector {
  readonly firstFeature: number;
  readonly features: number;
  private readonly window: number;
  private readonly excludedTokenId: number | undefined;
  /** Per feature, its top heap (keyed on sequence maxima) and its reservoir (random keys); entries are slots of its slab. */
  private readonly top: BoundedMinHeaps;
  private readonly reservoir: BoundedMinHeaps;
  private readonly topCapacity: number;
  private readonly quantileCapacity: number;
  private readonly windowLength: number;
  /**
   * Per feature, its examples' windows: slots 0..top-1 for the top heap, then
   * the reservoir's; views into chunks of SLAB_CHUNK features' slabs (see
   * `slab`). `slabChunk` and `slabOffset` say where each view lies.
   */
  private readonly slabs: ({ tokens: Int32Array; values: Float32Array } | undefined)[];
  /** Per feature and slot (feature * slots + slot), what is known of the example there. */
  private readonly exampleSequence: Float64Array;
  private readonly exampleStart: Int32Array;
  private readonly exampleSize: Int32Array;
  private readonly exampleMaxIndex: Int32Array;
  private readonly exampleMaxValue: Float64Array;
  private readonly slabChunk: Int32Array;
  private readonly slabOffset: Int32Array;
  private readonly chunks: { tokens: Int32Array; values: Float32Array }[] = [];
  private chunkSlabsUsed = SLAB_CHUNK;
  private readonly firings: Float64Array;
  private readonly negative: Float64Array;
  private readonly maxima: Float32Array;
  private readonly histogram: Uint32Array;
  private readonly rng: Rng;
  private tokens = 0;
  private sequences = 0;
  /** Per feature, its maximum and argmax in the sequence being read; -1: not fired positive in it. Reset after each sequence for the features it touched only. */
  private readonly sequenceMax: Float32Array;
  private readonly sequenceArgmax: Int32Array;
  private readonly touched: Int32Array;
  /**
   * The batch being read, for copying windows into slabs: its token ids, and
   * either its dense values or its kept pairs. For kept pairs, each
   * feature's pairs in the current sequence form a list from `pairHead`
   * (latest position first) through `pairNext`; `pairStamp` says which
   * sequence a feature's head belongs to, so nothing is cleared per sequence.
   */
  private batchIds: Int32Array = new Int32Array(0);
  private denseValues: Float32Array | undefined;
  private keptValues: Float32Array = new Float32Array(0);
  private keptK = 0;
  private pairNext: Int32Array = new Int32Array(0);
  private readonly pairHead: Int32Array;
  private readonly pairStamp: Int32Array;

  constructor(options: FeatureCollectorOptions) {
    const { firstFeature, features, topExamples = 20, quantileExamples = 20, window = 16, seed = 0 } = options;
    if (!Number.isInteger(features) || features < 1) throw new RangeError(`FeatureCollector: features must be an integer >= 1, got ${features}.`);
    if (!Number.isInteger(window) || window < 0) throw new RangeError(`FeatureCollector: window must be an integer >= 0, got ${window}.`);
    this.firstFeature = firstFeature;
    this.features = features;
    this.window = window;
    this.excludedTokenId = options.excludedTokenId;
    this.top = new BoundedMinHeaps(features, topExamples);
    this.reservoir = new BoundedMinHeaps(features, quantileExamples);
    const slots = features * (topExamples + quantileExamples);
    this.exampleSequence = new Float64Array(slots);
    this.exampleStart = new Int32Array(slots);
    this.exampleSize = new Int32Array(slots);
    this.exampleMaxIndex = new Int32Array(slots);
    this.exampleMaxValue = new Float64Array(slots);
    this.topCapacity = topExamples;
    this.quantileCapacity = quantileExamples;
    this.windowLength = 2 * window + 1;
    this.slabs = new Array(features).fill(undefined);
    this.slabChunk = new Int32Array(features);
    this.slabOffset = new Int32Array(features);
    this.firings = new Float64Array(features);
    this.negative = new Float64Array(features);
    this.maxima = new Float32Array(features);
    this.histogram = new Uint32Array(features * BINS);
    this.rng = new Rng(seed);
    this.sequenceMax = new Float32Array(features);
    this.sequenceArgmax = new Int32Array(features).fill(-1);
    this.touched = new Int32Array(features);
    this.pairHead = new Int32Array(features);
    this.pairStamp = new Int32Array(features).fill(-1);
  }

  /** Tokens counted so far (excluded positions left out). */
  get tokenCount(): number {
    return this.tokens;
  }

  /**
   * One batch: `values` [rows * length, features] row-major (row r * length
   * + s is position s of sequence r), `tokens` [rows, length].
   */
  add(values: Float32Array, tokens: ArrayLike<number | bigint>, rows: number, length: number): void {
    const { features } = this;
    if (values.length !== rows * length * features) {
      throw new RangeError(`FeatureCollector.add: ${values.length} values for ${rows} x ${length} positions of ${features} features (expected ${rows * length * features}).`);
    }
    if (tokens.length !== rows * length) throw new RangeError(`FeatureCollector.add: ${tokens.length} tokens for ${rows} x ${length} positions.`);
    // Token ids once as numbers: a BigInt64Array read allocates a BigInt each time.
    const ids = Int32Array.from(tokens as ArrayLike<number>, Number);
    this.batchIds = ids;
    this.denseValues = values;
    const sequenceMax = new Float32Array(features);
    const sequenceArgmax = new Int32Array(features);
    const { histogram, firings, negative } = this;
    const excluded = this.excludedTokenId;
    for (let row = 0; row < rows; row++) {
      sequenceMax.fill(0);
      sequenceArgmax.fill(-1);
      for (let position = 0; position < length; position++) {
        const at = row * length + position;
        if (excluded !== undefined && ids[at] === excluded) continue;
        this.tokens++;
        const offset = at * features;
        for (let feature = 0; feature < features; feature++) {
          const value = values[offset + feature]!;
          if (value === 0) continue;
          firings[feature]++;
          let magnitude = value;
          if (value < 0) {
            negative[feature]++;
            magnitude = -value;
          } else if (value > sequenceMax[feature]!) {
            sequenceMax[feature] = value;
            sequenceArgmax[feature] = position;
          }
          const bin = Math.min(BINS - 1, Math.max(0, Math.floor((Math.log10(magnitude) - LOG10_LOW) * BINS_PER_DECADE)));
          histogram[feature * BINS + bin]++;
        }
      }
      const sequence = this.sequences++;
      for (let feature = 0; feature < features; feature++) {
        const maximum = sequenceMax[feature]!;
        if (maximum <= 0) continue;
        this.offer(feature, maximum, sequenceArgmax[feature]!, sequence, row, length);
      }
    }
  }

  /**
   * One batch in sparse form, as a decomposition's kept features give it
   * (the contract's KeptFeatures): `indices` and `values` [rows * length, k]
   * row-major, position p's j-th pair at p * k + j, with `indices` in the
   * decomposition's numbering (pairs outside the collected range and zero
   * values are skipped). The same statistics as `add` of the dense values,
   * at O(k) per position instead of O(features), plus a sort of the
   * features that fired in each sequence.
   */
  addKept(indices: ArrayLike<number>, values: Float32Array, k: number, tokens: ArrayLike<number | bigint>, rows: number, length: number): void {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`FeatureCollector.addKept: k must be an integer >= 1, got ${k}.`);
    if (values.length !== rows * length * k || indices.length !== values.length) {
      throw new RangeError(
        `FeatureCollector.addKept: ${indices.length} indices and ${values.length} values for ${rows} x ${length} positions of ${k} kept features (expected ${rows * length * k} each).`,
      );
    }
    if (tokens.length !== rows * length) throw new RangeError(`FeatureCollector.addKept: ${tokens.length} tokens for ${rows} x ${length} positions.`);
    const ids = Int32Array.from(tokens as ArrayLike<number>, Number);
    this.batchIds = ids;
    this.denseValues = undefined;
    this.keptValues = values;
    this.keptK = k;
    if (this.pairNext.length < values.length) this.pairNext = new Int32Array(values.length);
    const { histogram, firings, negative, sequenceMax, sequenceArgmax, touched, firstFeature, features, pairNext, pairHead, pairStamp } = this;
    const excluded = this.excludedTokenId;
    for (let row = 0; row < rows; row++) {
      let touchedCount = 0;
      const stamp = this.sequences;
      for (let position = 0; position < length; position++) {
        const at = row * length + position;
        // An excluded position counts in no statistic, but its values still show in the windows around it.
        const counted = excluded === undefined || ids[at] !== excluded;
        if (counted) this.tokens++;
        for (let pair = at * k, end = pair + k; pair < end; pair++) {
          const value = values[pair]!;
          if (value === 0) continue;
          const feature = indices[pair]! - firstFeature;
          if (feature < 0 || feature >= features) continue;
          if (pairStamp[feature] !== stamp) {
            pairStamp[feature] = stamp;
            pairHead[feature] = -1;
          }
          pairNext[pair] = pairHead[feature]!;
          pairHead[feature] = pair;
          if (!counted) continue;
          firings[feature]++;
          let magnitude = value;
          if (value < 0) {
            negative[feature]++;
            magnitude = -value;
          } else if (value > sequenceMax[feature]!) {
            if (sequenceArgmax[feature] === -1) touched[touchedCount++] = feature;
            sequenceMax[feature] = value;
            sequenceArgmax[feature] = position;
          }
          const bin = Math.min(BINS - 1, Math.max(0, Math.floor((Math.log10(magnitude) - LOG10_LOW) * BINS_PER_DECADE)));
          histogram[feature * BINS + bin]++;
        }
      }
      const sequence = this.sequences++;
      // In feature order, as `add` visits them: the reservoir's random draws then match.
      // When most features fired, a pass over all of them beats sorting the ones that did.
      const scan = touchedCount * Math.log2(touchedCount + 1) > features;
      const fired = scan ? touched : touched.subarray(0, touchedCount).sort();
      const count = scan ? features : touchedCount;
      for (let index = 0; index < count; index++) {
        const feature = scan ? index : fired[index]!;
        const maxPosition = sequenceArgmax[feature]!;
        if (maxPosition === -1) continue;
        const maximum = sequenceMax[feature]!;
        sequenceMax[feature] = 0;
        sequenceArgmax[feature] = -1;
        this.offer(feature, maximum, maxPosition, sequence, row, length);
      }
    }
  }

  /**
   * Per collected feature, in order. The examples' `tokens` and `values` are
   * views into one copy of the collector's slabs (made here, so later batches
   * do not change them): two allocations per chunk of features instead of two
   * per example, which with 2048 features and 40 examples each took seconds.
   */
  statistics(): FeatureStatistics[] {
    const BINS_OF = (feature: number) => Array.from(this.histogram.subarray(feature * BINS, (feature + 1) * BINS));
    const copies = this.chunks.map(({ tokens, values }) => ({ tokens: tokens.slice(), values: values.slice() }));
    return Array.from({ length: this.features }, (_, feature) => {
      const sample = this.reservoir
        .sorted(feature)
        .map(({ slot }) => this.example(copies, feature, this.topCapacity + slot))
        .sort((a, b) => a.maxValue - b.maxValue);
      return {
        feature: this.firstFeature + feature,
        firings: this.firings[feature]!,
        density: this.tokens === 0 ? 0 : this.firings[feature]! / this.tokens,
        maxValue: this.maxima[feature]!,
        histogram: { log10Low: LOG10_LOW, binsPerDecade: BINS_PER_DECADE, counts: BINS_OF(feature), negative: this.negative[feature]! },
        top: this.top.sorted(feature).map(({ slot }) => this.example(copies, feature, slot)),
        quantiles: sample.map((example, rank) => ({ ...example, decile: Math.floor((rank * 10) / sample.length) })),
      };
    });
  }

  /** A sequence where `feature` peaked at `maximum` (> 0) at `maxPosition`: into its maximum, top heap and reservoir. */
  private offer(feature: number, maximum: number, maxPosition: number, sequence: number, row: number, length: number): void {
    if (maximum > this.maxima[feature]!) this.maxima[feature] = maximum;
    const topSlot = this.top.offer(feature, maximum);
    if (topSlot !== -1) this.store(topSlot, row, length, feature, maxPosition, maximum, sequence);
    const sampleSlot = this.reservoir.offer(feature, this.rng.next());
    if (sampleSlot !== -1) this.store(this.topCapacity + sampleSlot, row, length, feature, maxPosition, maximum, sequence);
  }

  /**
   * Copies the window around a sequence's maximum into the feature's slab,
   * at the slot its heap gave it (the evicted example's, or a free one), and
   * what is known of it into the per-slot arrays: no allocation per example.
   */
  private store(slot: number, row: number, length: number, feature: number, maxPosition: number, maximum: number, sequence: number): void {
    const slab = this.slabs[feature] ?? this.slab(feature);
    const start = Math.max(0, maxPosition - this.window);
    const end = Math.min(length, maxPosition + this.window + 1);
    const first = row * length + start;
    const offset = slot * this.windowLength;
    const size = end - start;
    const ids = this.batchIds;
    for (let index = 0; index < size; index++) slab.tokens[offset + index] = ids[first + index]!;
    const dense = this.denseValues;
    if (dense !== undefined) {
      // -0 (say a negative pre-activation times a 0 gate) as 0, as the kept pairs' windows have it: both paths give the same data.
      for (let index = 0; index < size; index++) {
        const value = dense[(first + index) * this.features + feature]!;
        slab.values[offset + index] = value === 0 ? 0 : value;
      }
    } else {
      // The feature's pairs in this sequence, latest position first; positions without one are 0.
      slab.values.fill(0, offset, offset + size);
      const k = this.keptK;
      for (let pair = this.pairHead[feature]!; pair !== -1; pair = this.pairNext[pair]!) {
        const at = Math.floor(pair / k);
        if (at < first) break;
        if (at < first + size) slab.values[offset + at - first] = this.keptValues[pair]!;
      }
    }
    const at = feature * (this.topCapacity + this.quantileCapacity) + slot;
    this.exampleSequence[at] = sequence;
    this.exampleStart[at] = start;
    this.exampleSize[at] = size;
    this.exampleMaxIndex[at] = maxPosition - start;
    this.exampleMaxValue[at] = maximum;
  }

  /**
   * A feature's slab, the first time it stores an example: a view into the
   * current chunk, a new chunk of SLAB_CHUNK slabs when that one is used up.
   * Typed arrays of a few KiB each are memory outside V8's heap that drives
   * its collector; one per feature made the first batches' stores several
   * times slower than later ones. Features that never fire get no slab.
   */
  private slab(feature: number): { tokens: Int32Array; values: Float32Array } {
    const size = (this.topCapacity + this.quantileCapacity) * this.windowLength;
    if (this.chunkSlabsUsed === SLAB_CHUNK) {
      this.chunks.push({ tokens: new Int32Array(SLAB_CHUNK * size), values: new Float32Array(SLAB_CHUNK * size) });
      this.chunkSlabsUsed = 0;
    }
    const chunk = this.chunks.length - 1;
    const offset = this.chunkSlabsUsed++ * size;
    const { tokens, values } = this.chunks[chunk]!;
    const slab = { tokens: tokens.subarray(offset, offset + size), values: values.subarray(offset, offset + size) };
    this.slabs[feature] = slab;
    this.slabChunk[feature] = chunk;
    this.slabOffset[feature] = offset;
    return slab;
  }

  private example(copies: readonly { tokens: Int32Array; values: Float32Array }[], feature: number, slot: number): FeatureExample {
    const { tokens, values } = copies[this.slabChunk[feature]!]!;
    const offset = this.slabOffset[feature]! + slot * this.windowLength;
    const at = feature * (this.topCapacity + this.quantileCapacity) + slot;
    const size = this.exampleSize[at]!;
    return {
      sequence: this.exampleSequence[at]!,
      start: this.exampleStart[at]!,
      maxIndex: this.exampleMaxIndex[at]!,
      maxValue: this.exampleMaxValue[at]!,
      tokens: tokens.subarray(offset, offset + size),
      values: values.subarray(offset, offset + size),
    };
  }
}
