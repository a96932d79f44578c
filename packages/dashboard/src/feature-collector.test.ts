import { Rng } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { FeatureCollector } from './feature-collector.js';

/** Sparse random feature values over batches of sequences, with their tokens. */
function randomBatches(batches: number, rows: number, length: number, features: number, seed: number) {
  const rng = new Rng(seed);
  return Array.from({ length: batches }, () => {
    const values = new Float32Array(rows * length * features);
    for (let index = 0; index < values.length; index++) if (rng.next() < 0.1) values[index] = rng.next() * 5 - 0.5;
    const tokens = BigInt64Array.from({ length: rows * length }, () => BigInt(rng.int(1000)));
    return { values, tokens };
  });
}

describe('FeatureCollector', () => {
  const [rows, length, features, window] = [4, 16, 3, 2];
  const batches = randomBatches(25, rows, length, features, 4);
  const collector = new FeatureCollector({ firstFeature: 10, features, window, topExamples: 20, quantileExamples: 10 });
  for (const { values, tokens } of batches) collector.add(values, tokens, rows, length);
  const statistics = collector.statistics();

  /** Every sequence's window around its positive maximum for `feature`, computed directly. */
  function sequences(feature: number) {
    return batches
      .flatMap(({ values, tokens }, batch) =>
        Array.from({ length: rows }, (_, row) => {
          let maxPosition = -1;
          for (let position = 0; position < length; position++) {
            const value = values[(row * length + position) * features + feature]!;
            if (value > 0 && (maxPosition === -1 || value > values[(row * length + maxPosition) * features + feature]!)) maxPosition = position;
          }
          if (maxPosition === -1) return undefined;
          const start = Math.max(0, maxPosition - window);
          const end = Math.min(length, maxPosition + window + 1);
          const positions = Array.from({ length: end - start }, (_, index) => row * length + start + index);
          return {
            sequence: batch * rows + row,
            start,
            maxIndex: maxPosition - start,
            maxValue: values[(row * length + maxPosition) * features + feature]!,
            tokens: positions.map((at) => Number(tokens[at])),
            values: positions.map((at) => values[at * features + feature]!),
          };
        }),
      )
      .filter((example) => example !== undefined);
  }

  it("keeps each feature's true top 20 sequences with their exact windows, after many evictions", () => {
    for (let feature = 0; feature < features; feature++) {
      const expected = sequences(feature)
        .sort((a, b) => b.maxValue - a.maxValue)
        .slice(0, 20);
      const top = statistics[feature]!.top.map((example) => ({ ...example, tokens: Array.from(example.tokens), values: Array.from(example.values) }));
      expect(statistics[feature]!.feature).toBe(10 + feature);
      expect(top).toEqual(expected);
    }
  });

  it('samples firing sequences with their exact windows, in increasing order with deciles, and counts every non-zero value', () => {
    for (let feature = 0; feature < features; feature++) {
      const all = new Map(sequences(feature).map((example) => [example.sequence, example]));
      const { quantiles, firings, histogram, density } = statistics[feature]!;
      expect(quantiles).toHaveLength(10);
      expect(quantiles.map(({ decile }) => decile)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      for (const { decile: _decile, ...example } of quantiles) expect({ ...example, tokens: Array.from(example.tokens), values: Array.from(example.values) }).toEqual(all.get(example.sequence));
      expect(quantiles.map(({ maxValue }) => maxValue)).toEqual(quantiles.map(({ maxValue }) => maxValue).sort((a, b) => a - b));
      const nonZero = batches.reduce((sum, { values }) => sum + values.filter((_, index) => index % features === feature && values[index] !== 0).length, 0);
      expect(firings).toBe(nonZero);
      expect(density).toBeCloseTo(nonZero / (25 * rows * length), 12);
      expect(histogram.counts.reduce((sum, count) => sum + count, 0)).toBe(nonZero);
      const negative = batches.reduce((sum, { values }) => sum + values.filter((value, index) => index % features === feature && value < 0).length, 0);
      expect(histogram.negative).toBe(negative);
    }
  });
});

describe('FeatureCollector.addKept', () => {
  // A dictionary of 60 (most collected features fire in every sequence) and of 600 (a few do): both ways of visiting them.
  for (const total of [60, 600])
    it(`gives exactly the statistics of \`add\` on the same values in dense form (a range of the features, zeros, negatives, an excluded token; ${total} features)`, () => {
      const [rows, length, k, firstFeature, features] = [5, 24, 6, 10, 30];
      const rng = new Rng(7);
      const options = { firstFeature, features, window: 3, topExamples: 5, quantileExamples: 4, excludedTokenId: 3, seed: 11 };
      const dense = new FeatureCollector(options);
      const kept = new FeatureCollector(options);
      for (let batch = 0; batch < 30; batch++) {
        const indices = new Int32Array(rows * length * k);
        const values = new Float32Array(rows * length * k);
        const denseValues = new Float32Array(rows * length * features);
        for (let at = 0; at < rows * length; at++) {
          // k distinct features of the whole dictionary, some outside the collected range; some values 0 or negative.
          const chosen = new Set<number>();
          while (chosen.size < k) chosen.add(rng.int(total));
          [...chosen].forEach((feature, j) => {
            const draw = rng.next();
            const value = draw < 0.15 ? 0 : draw < 0.3 ? -rng.next() : rng.next() * 4;
            indices[at * k + j] = feature;
            values[at * k + j] = value;
            if (feature >= firstFeature && feature < firstFeature + features) denseValues[at * features + feature - firstFeature] = value;
          });
        }
        const tokens = BigInt64Array.from({ length: rows * length }, () => BigInt(rng.int(8)));
        dense.add(denseValues, tokens, rows, length);
        kept.addKept(indices, values, k, tokens, rows, length);
      }
      const expected = dense.statistics();
      expect(expected.some(({ top }) => top.length === 5)).toBe(true);
      expect(kept.tokenCount).toBe(dense.tokenCount);
      expect(kept.statistics()).toEqual(expected);
    });
});

describe('FeatureCollector slabs', () => {
  it("keeps every feature's windows apart when their slabs span several chunks (150 features), and statistics() is a snapshot later batches leave alone", () => {
    const [rows, length, features, window, top] = [3, 12, 150, 2, 4];
    const batches = randomBatches(8, rows, length, features, 9);
    const collector = new FeatureCollector({ firstFeature: 0, features, window, topExamples: top, quantileExamples: 3 });
    for (const { values, tokens } of batches) collector.add(values, tokens, rows, length);
    const plain = (examples: readonly { tokens: ArrayLike<number>; values: ArrayLike<number> }[]) =>
      examples.map((example) => ({ ...example, tokens: Array.from(example.tokens), values: Array.from(example.values) }));
    const statistics = collector.statistics();
    const snapshot = statistics.map(({ top, quantiles }) => ({ top: plain(top), quantiles: plain(quantiles) }));
    for (let feature = 0; feature < features; feature++) {
      // Each sequence's window around its positive maximum, computed directly.
      const expected = batches
        .flatMap(({ values, tokens }, batch) =>
          Array.from({ length: rows }, (_, row) => {
            let best = -1;
            for (let position = 0; position < length; position++) {
              const value = values[(row * length + position) * features + feature]!;
              if (value > 0 && (best === -1 || value > values[(row * length + best) * features + feature]!)) best = position;
            }
            if (best === -1) return undefined;
            const start = Math.max(0, best - window);
            const positions = Array.from({ length: Math.min(length, best + window + 1) - start }, (_, index) => row * length + start + index);
            return {
              sequence: batch * rows + row,
              start,
              maxIndex: best - start,
              maxValue: values[(row * length + best) * features + feature]!,
              tokens: positions.map((at) => Number(tokens[at])),
              values: positions.map((at) => values[at * features + feature]!),
            };
          }),
        )
        .filter((example) => example !== undefined)
        .sort((a, b) => b.maxValue - a.maxValue)
        .slice(0, top);
      expect(snapshot[feature]!.top).toEqual(expected);
    }
    for (const { values, tokens } of randomBatches(4, rows, length, features, 10)) collector.add(values, tokens, rows, length);
    expect(statistics.map(({ top, quantiles }) => ({ top: plain(top), quantiles: plain(quantiles) }))).toEqual(snapshot);
    expect(collector.statistics().map(({ top }) => plain(top))).not.toEqual(snapshot.map(({ top }) => top));
  });
});
