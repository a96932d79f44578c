import { Rng } from '@nnd/core';
import type { ActivationSource } from './activation-source.js';

/** Gaussian batches where batch n depends only on (seed, n): resumable by construction. */
export function gaussianSource(batchSize: number, actSize: number, seed: number, options: { nanAtBatch?: number } = {}): ActivationSource & { position: number } {
  return {
    position: 0,
    async nextBatch() {
      const batch = new Rng(seed * 1_000_003 + this.position).normal(batchSize * actSize, 0.5, 1);
      if (this.position === options.nanAtBatch) batch.fill(Number.NaN);
      this.position++;
      return batch;
    },
    seek(batchIndex: number) {
      this.position = batchIndex;
    },
  };
}
