import { ConfigError } from '@nnd/core';
import { ActivationHarvester } from './activation-harvester.js';
import type { ActivationModel } from './activation-model.js';
import type { DocumentSource } from './dataset-document.js';
import { specialTokenIdsOf, type TextTokenizer } from './text-tokenizer.js';
import { TokenPacker, type DatasetPosition } from './token-packer.js';

/** How documents become model batches and activations, shared by the stores and harvestToCache; names follow the reference's config in camelCase. */
export interface HarvestSettings {
  readonly model: ActivationModel;
  readonly dataset: DocumentSource;
  /** Tokens per sequence (`seq_len`); capped by the model's context length. */
  readonly sequenceLength: number;
  /** Sequences per model run (`model_batch_size`). */
  readonly modelBatchSize: number;
  /** Tokenizer for text datasets; default the model's. */
  readonly tokenizer?: TextTokenizer;
  /** Prepend BOS to each text document (default true, as the reference). */
  readonly prependBos?: boolean;
  /** Tokens kept per text document, BOS included (default the model's context length, as the reference's truncate=True); Infinity keeps all. */
  readonly documentTokenLimit?: number;
  /** Carry tokens past a full model batch into the next one (default false: dropped, as the reference). */
  readonly keepRemainder?: boolean;
  /** Start the dataset again when it ends (default false: the store reports it exhausted). */
  readonly repeatDataset?: boolean;
  /**
   * Drop positions holding BOS or another special token (the tokenizer's
   * `specialTokenIds`) from the activations: their norms are outliers that
   * dominate an SAE's loss. Default false, as the reference.
   */
  readonly excludeSpecialTokens?: boolean;
  /** Receives the store's log lines (buffer size in bytes, sequence-length cap); default console.log. */
  readonly log?: (message: string) => void;
}

/** A harvester over the packed dataset, as HarvestSettings describe, starting at `start`. */
export function createHarvester(settings: HarvestSettings, hooks: readonly string[], start?: DatasetPosition): ActivationHarvester {
  const { model } = settings;
  const log = settings.log ?? console.log;
  if (!Number.isSafeInteger(settings.sequenceLength) || settings.sequenceLength < 1) {
    throw new ConfigError(`sequenceLength must be a positive integer, got ${settings.sequenceLength}.`);
  }
  const sequenceLength = Math.min(settings.sequenceLength, model.contextLength);
  if (sequenceLength < settings.sequenceLength) {
    log(`sequenceLength ${settings.sequenceLength} exceeds ${model.name}'s context of ${model.contextLength}; using ${sequenceLength}.`);
  }
  const tokenizer = settings.tokenizer ?? model.tokenizer;
  const packer = new TokenPacker(
    settings.dataset,
    tokenizer,
    {
      rows: settings.modelBatchSize,
      sequenceLength,
      documentTokenLimit: settings.documentTokenLimit ?? model.contextLength,
      prependBos: settings.prependBos ?? true,
      keepRemainder: settings.keepRemainder ?? false,
      repeat: settings.repeatDataset ?? false,
    },
    start,
  );
  let excludedTokenIds: number[] = [];
  if (settings.excludeSpecialTokens) {
    excludedTokenIds = specialTokenIdsOf(tokenizer);
    if (excludedTokenIds.length === 0) {
      throw new ConfigError('excludeSpecialTokens needs to know the special token ids; pass a tokenizer with bosTokenId or specialTokenIds.');
    }
  }
  if (hooks.length === 0) throw new ConfigError('hookPoints is empty; name at least one hook, e.g. blocks.0.hook_resid_pre.');
  const duplicate = hooks.find((hook, index) => hooks.indexOf(hook) !== index);
  if (duplicate !== undefined) throw new ConfigError(`hookPoints names '${duplicate}' twice.`);
  return new ActivationHarvester({ model, packer, hooks, excludedTokenIds });
}
