import { Rng } from '@nnd/core';
import type { ActivationSource } from './activation-source.js';

export interface SparseDirections {
  /** [count, dimensions] unit rows, row-major. */
  readonly directions: Float32Array;
  readonly count: number;
  readonly dimensions: number;
}

/** `count` random unit directions in `dimensions` dimensions (Gaussian, normalised). */
export function randomDirections(count: number, dimensions: number, seed: number): SparseDirections {
  const directions = new Rng(seed).normal(count * dimensions);
  for (let row = 0; row < count; row++) {
    const slice = directions.subarray(row * dimensions, (row + 1) * dimensions);
    const norm = Math.hypot(...slice);
    for (let i = 0; i < dimensions; i++) slice[i] /= norm;
  }
  return { directions, count, dimensions };
}

export interface SparseSourceOptions {
  batchSize: number;
  /** Each sample has between `fewest` and `most` directions (uniform), mean (fewest + most) / 2. */
  fewest: number;
  most: number;
  /** Coefficients are uniform in [minimum, maximum]. */
  minimum: number;
  maximum: number;
  seed: number;
}

/**
 * Samples that are sums of a few distinct random directions with positive
 * random coefficients. Batch n depends only on (seed, n), so it is resumable.
 */
export function sparseDirectionSource(directions: SparseDirections, options: SparseSourceOptions): ActivationSource & { position: number } {
  const { count, dimensions } = directions;
  return {
    position: 0,
    async nextBatch() {
      const rng = new Rng(options.seed * 1_000_003 + this.position++);
      const batch = new Float32Array(options.batchSize * dimensions);
      const chosen = new Set<number>();
      for (let sample = 0; sample < options.batchSize; sample++) {
        chosen.clear();
        const active = options.fewest + rng.int(options.most - options.fewest + 1);
        while (chosen.size < active) chosen.add(rng.int(count));
        const row = batch.subarray(sample * dimensions, (sample + 1) * dimensions);
        for (const direction of chosen) {
          const coefficient = options.minimum + (options.maximum - options.minimum) * rng.next();
          const unit = directions.directions.subarray(direction * dimensions, (direction + 1) * dimensions);
          for (let i = 0; i < dimensions; i++) row[i] += coefficient * unit[i];
        }
      }
      return batch;
    },
    seek(batchIndex: number) {
      this.position = batchIndex;
    },
  };
}

/**
 * The fraction of true directions whose best-matching decoder row (max cosine
 * over `W_dec`'s [dict_size, dimensions] rows) has cosine above `threshold`.
 */
export function recoveredFraction(directions: SparseDirections, decoder: Float32Array, threshold: number): number {
  const { count, dimensions } = directions;
  const rows = decoder.length / dimensions;
  const norms = new Float64Array(rows);
  for (let row = 0; row < rows; row++) norms[row] = Math.hypot(...decoder.subarray(row * dimensions, (row + 1) * dimensions)) || 1;
  let recovered = 0;
  for (let direction = 0; direction < count; direction++) {
    let best = -1;
    for (let row = 0; row < rows; row++) {
      let dot = 0;
      for (let i = 0; i < dimensions; i++) dot += directions.directions[direction * dimensions + i] * decoder[row * dimensions + i];
      best = Math.max(best, dot / norms[row]);
    }
    if (best > threshold) recovered++;
  }
  return recovered / count;
}
