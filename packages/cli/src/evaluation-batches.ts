import {
  ActivationsStore,
  MultiHookActivationsStore,
  CachedActivationsStore,
  CachedMultiHookActivationsStore,
  DATASET_START,
  TokenPacker,
  type DatasetPosition,
  type HarvestSettings,
} from '@nnd/activations';
import type { HostTensor } from '@nnd/core';
import type { HookedTransformer } from '@nnd/models';
import type { ActivationSource } from '@nnd/train';
import type { RunConfig } from './run-config.js';

/** The summary key recording where the final evaluation's tokens began, so `nnd eval` and `nnd dashboard` read the same held-out tokens. */
export const EVALUATION_START_KEY = 'evaluation_start';

/**
 * Logits per evaluation batch are [rows, seq_len, vocabulary], and the
 * evaluation program holds several (clean, reconstructed, two ablations):
 * rows are chosen so that one such tensor stays near 256 MiB.
 */
const LOGIT_BUDGET = 2 ** 26;

/** Rows per evaluation batch for this model and sequence length. */
export function evaluationRows(model: HookedTransformer, config: Pick<RunConfig, 'seq_len' | 'model_batch_size'>): number {
  const sequenceLength = Math.min(config.seq_len, model.config.contextLength);
  return Math.max(1, Math.min(config.model_batch_size, Math.floor(LOGIT_BUDGET / (sequenceLength * model.config.vocabSize))));
}

/**
 * About `tokens` tokens (whole batches of at most `rowsPerBatch` rows)
 * packed as the training stream packs them, from `start`.
 */
export async function evaluationBatches(settings: HarvestSettings, tokens: number, rowsPerBatch: number, start: DatasetPosition = DATASET_START): Promise<HostTensor<'int64'>[]> {
  const sequenceLength = Math.min(settings.sequenceLength, settings.model.contextLength);
  const rows = Math.ceil(tokens / sequenceLength);
  const packer = new TokenPacker(settings.dataset, settings.tokenizer ?? settings.model.tokenizer, packing(settings, Math.min(rowsPerBatch, rows), sequenceLength), start);
  const batches: HostTensor<'int64'>[] = [];
  for (let batch = 0; batch < Math.ceil(rows / rowsPerBatch); batch++) {
    const tokenBatch = await packer.next();
    if (tokenBatch === undefined) break;
    batches.push(tokenBatch);
  }
  return batches;
}

/**
 * The tokens in `batches`: what an evaluation really covers, since whole
 * rows of seq_len are taken (`eval_tokens: 1` evaluates one row), and a
 * short dataset may give fewer.
 */
export function tokensIn(batches: readonly HostTensor<'int64'>[]): number {
  return batches.reduce((sum, batch) => sum + batch.shape.reduce((product, size) => product * size, 1), 0);
}

/**
 * Where tokens the SAE has not trained on begin: after the buffer the store
 * is serving (the next one was harvested but never served), or after the
 * last shard of an activation cache. Unless the dataset was gone through
 * more than once, these tokens are held out.
 */
export async function heldOutStart(source: ActivationSource, settings: HarvestSettings, config: Pick<RunConfig, 'model_batch_size' | 'num_batches_in_buffer'>): Promise<DatasetPosition> {
  if (source instanceof CachedActivationsStore || source instanceof CachedMultiHookActivationsStore) return source.manifest.shards.at(-1)?.datasetPosition ?? DATASET_START;
  if (!(source instanceof ActivationsStore || source instanceof MultiHookActivationsStore)) return DATASET_START;
  const sequenceLength = Math.min(settings.sequenceLength, settings.model.contextLength);
  const packer = new TokenPacker(settings.dataset, settings.tokenizer ?? settings.model.tokenizer, packing(settings, config.model_batch_size, sequenceLength), source.position().buffer.source);
  for (let batch = 0; batch < config.num_batches_in_buffer; batch++) {
    if ((await packer.next()) === undefined) return DATASET_START;
  }
  return packer.position();
}

function packing(settings: HarvestSettings, rows: number, sequenceLength: number) {
  return {
    rows,
    sequenceLength,
    documentTokenLimit: settings.documentTokenLimit ?? settings.model.contextLength,
    prependBos: settings.prependBos ?? true,
    keepRemainder: settings.keepRemainder ?? false,
    repeat: true,
  };
}
