import { createDecompositionRegistry, lookupDecomposition } from '@nnd/core';
import { batchTopKSae } from './batchtopk-sae.js';
import { jumpReluSae } from './jumprelu-sae.js';
import { architectureOf, type SaeConfig } from './sae-config.js';
import type { SparseAutoencoder } from './sparse-autoencoder.js';
import { topKSae } from './topk-sae.js';
import { vanillaSae } from './vanilla-sae.js';

/** The four SAE types, keyed by architecture; built from an explicit list. */
export const saeRegistry = createDecompositionRegistry([vanillaSae, topKSae, batchTopKSae, jumpReluSae]);

/**
 * Validates a raw config (defaults filled in) and creates the SAE its
 * `architecture` (or the reference's `sae_type`) names.
 */
export function createSae(config: unknown): SparseAutoencoder<SaeConfig> {
  const definition = lookupDecomposition(saeRegistry, architectureOf(config));
  return definition.create(definition.parseConfig(config)) as unknown as SparseAutoencoder<SaeConfig>;
}
