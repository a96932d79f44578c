import { DATASET_START, TokenPacker, type DatasetPosition, type DocumentSource, type PackingOptions, type TextTokenizer } from '@nnd/activations';
import { ConfigError, type ActivationSource } from '@nnd/core';

/** What a token-batch source records in a checkpoint: the batches it served and where the next one starts. */
interface TokenBatchPosition {
  readonly batchesServed: number;
  readonly dataset: DatasetPosition;
}

/**
 * The trainer's source for a family trained through the model (SPD): packed
 * token batches [rows, seq] under one hook. It records its dataset position
 * in checkpoints, so a resumed run continues from there rather than packing
 * every batch before it again; `position()` is where the next batch (or the
 * held-out evaluation after training) starts.
 */
export function tokenBatchSource(
  dataset: DocumentSource,
  tokenizer: TextTokenizer | undefined,
  packing: PackingOptions,
  hook: string,
  datasetName: string,
): ActivationSource & { position(): DatasetPosition } {
  let packer = new TokenPacker(dataset, tokenizer, packing, DATASET_START);
  let served = 0;
  return {
    async nextBatch() {
      const batch = await packer.next();
      if (batch === undefined) throw new ConfigError(`The dataset ${datasetName} gave no more token batches; set repeat_dataset: true, lower num_tokens, or use a larger dataset.`);
      served++;
      return { [hook]: batch.data as BigInt64Array };
    },
    resumePosition: (): TokenBatchPosition => ({ batchesServed: served, dataset: packer.position() }),
    async seek(batchIndex, position) {
      const recorded = position as Partial<TokenBatchPosition> | undefined;
      if (recorded?.batchesServed === batchIndex && typeof recorded.dataset === 'object' && recorded.dataset !== null) {
        packer = new TokenPacker(dataset, tokenizer, packing, recorded.dataset);
        served = batchIndex;
        return;
      }
      if (position !== undefined) {
        throw new ConfigError(
          `The checkpoint's source position ${JSON.stringify(position)} is not one this run's token batches wrote after ${batchIndex} batches; resume from a checkpoint of this run.`,
        );
      }
      // A checkpoint without a position (written before sources recorded one): pack the batches before it again.
      packer = new TokenPacker(dataset, tokenizer, packing, DATASET_START);
      served = 0;
      while (served < batchIndex) await this.nextBatch();
    },
    position: () => packer.position(),
  };
}
