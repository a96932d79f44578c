import { createDecompositionRegistry, lookupDecomposition } from '@nnd/core';
import { jumpReluTranscoder } from './jumprelu-transcoder.js';
import { batchTopKTranscoder, topKTranscoder } from './topk-transcoder.js';
import { transcoderArchitectureOf, type TranscoderConfig } from './transcoder-config.js';
import type { Transcoder } from './transcoder.js';
import { vanillaTranscoder } from './vanilla-transcoder.js';

/** The four transcoder types, keyed by architecture. */
export const transcoderRegistry = createDecompositionRegistry([vanillaTranscoder, topKTranscoder, batchTopKTranscoder, jumpReluTranscoder]);

/**
 * Validates a raw config (defaults filled in) and creates the transcoder its
 * `architecture` (or the reference's `encoder_type`) names.
 */
export function createTranscoder(config: unknown): Transcoder<TranscoderConfig> {
  const definition = lookupDecomposition(transcoderRegistry, transcoderArchitectureOf(config));
  return definition.create(definition.parseConfig(config)) as unknown as Transcoder<TranscoderConfig>;
}
