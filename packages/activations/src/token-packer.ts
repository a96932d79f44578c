import { ConfigError, type HostTensor } from '@nnd/core';
import type { DatasetDocument, DocumentSource } from './dataset-document.js';
import { DatasetError } from './dataset-error.js';
import type { TextTokenizer } from './text-tokenizer.js';

export interface PackingOptions {
  /** Rows per model batch (the reference's `model_batch_size`). */
  readonly rows: number;
  /** Tokens per row (the reference's `seq_len`, already capped by the model's context). */
  readonly sequenceLength: number;
  /**
   * Tokens kept of each text document, BOS included. The reference
   * tokenises with `truncate=True`, which cuts at the model's context length;
   * pass Infinity to keep whole documents.
   */
  readonly documentTokenLimit: number;
  /** Put the tokenizer's BOS before every text document (the reference's `prepend_bos=True`). */
  readonly prependBos: boolean;
  /**
   * false (the reference): tokens gathered past a full batch are dropped and
   * the next batch starts at the next document. true: they start the next batch.
   */
  readonly keepRemainder: boolean;
  /** Start again at the first document when the dataset ends, instead of reporting it exhausted. */
  readonly repeat: boolean;
}

/** Where the packer continues: token `token` of document `document` in pass `epoch` over the dataset. */
export interface DatasetPosition {
  readonly epoch: number;
  readonly document: number;
  readonly token: number;
}

export const DATASET_START: DatasetPosition = { epoch: 0, document: 0, token: 0 };

/**
 * Tokenisation and packing as the reference's `get_batch_tokens`: documents
 * are tokenised (BOS first, truncated to `documentTokenLimit`) or taken as
 * they are when pre-tokenised, concatenated until `rows * sequenceLength`
 * tokens are collected, and cut into a [rows, sequenceLength] batch. Rows
 * therefore start mid-document and may hold several documents, each opened
 * by its BOS.
 */
export class TokenPacker {
  private iterator: AsyncIterator<DatasetDocument> | undefined;
  private epoch: number;
  /** Index of the next document the iterator yields, in the current epoch. */
  private nextDocument: number;
  /** Tokens of the document being consumed, and how many of them are used. */
  private pending: readonly number[] | undefined;
  private pendingOffset = 0;
  /** Token offset to apply to the first document read (resuming mid-document). */
  private resumeOffset: number;
  /** Tokens read since the iterator was (re)started, and the document it started at: an empty dataset must not loop forever. */
  private tokensThisPass = 0;
  private passStart = 0;
  private documentsRead = 0;

  constructor(
    private readonly source: DocumentSource,
    private readonly tokenizer: TextTokenizer | undefined,
    private readonly options: PackingOptions,
    start: DatasetPosition = DATASET_START,
  ) {
    for (const field of ['rows', 'sequenceLength'] as const) {
      if (!Number.isSafeInteger(options[field]) || options[field] < 1) {
        throw new ConfigError(`TokenPacker: ${field} must be a positive integer, got ${options[field]}.`);
      }
    }
    if (!(options.documentTokenLimit >= 1)) {
      throw new ConfigError(`TokenPacker: documentTokenLimit must be at least 1 (or Infinity), got ${options.documentTokenLimit}.`);
    }
    for (const field of ['epoch', 'document', 'token'] as const) {
      if (!Number.isSafeInteger(start[field]) || start[field] < 0) {
        throw new ConfigError(`TokenPacker: the start position's ${field} must be a non-negative integer, got ${start[field]}.`);
      }
    }
    this.epoch = start.epoch;
    this.nextDocument = start.document;
    this.resumeOffset = start.token;
  }

  /** Where the next batch starts; a packer built at this position produces the same batches. */
  position(): DatasetPosition {
    if (this.pending !== undefined && this.pendingOffset < this.pending.length) {
      return { epoch: this.epoch, document: this.nextDocument - 1, token: this.pendingOffset };
    }
    return { epoch: this.epoch, document: this.nextDocument, token: this.resumeOffset };
  }

  /** Rows per batch. */
  get rows(): number {
    return this.options.rows;
  }

  get sequenceLength(): number {
    return this.options.sequenceLength;
  }

  /** How many documents this packer has read, over all epochs. */
  get documentCount(): number {
    return this.documentsRead;
  }

  /** The next [rows, sequenceLength] int64 batch, or undefined once the dataset has ended (the partial batch is dropped, as the reference's StopIteration does). */
  async next(): Promise<HostTensor<'int64'> | undefined> {
    const { rows, sequenceLength, keepRemainder } = this.options;
    const data = new BigInt64Array(rows * sequenceLength);
    let filled = 0;
    while (filled < data.length) {
      if (this.pending === undefined || this.pendingOffset >= this.pending.length) {
        if (!(await this.advance())) return undefined;
        continue;
      }
      const take = Math.min(data.length - filled, this.pending.length - this.pendingOffset);
      for (let index = 0; index < take; index++) data[filled + index] = BigInt(this.pending[this.pendingOffset + index]);
      filled += take;
      this.pendingOffset += take;
    }
    if (!keepRemainder) this.pending = undefined;
    return { dtype: 'int64', shape: [rows, sequenceLength], data };
  }

  /** Loads the next non-empty document into `pending`; false when the dataset has ended for good. */
  private async advance(): Promise<boolean> {
    for (;;) {
      if (this.iterator === undefined) {
        this.iterator = this.source.documents(this.nextDocument)[Symbol.asyncIterator]();
        this.passStart = this.nextDocument;
        this.tokensThisPass = 0;
      }
      const step = await this.iterator.next();
      if (step.done) {
        this.iterator = undefined;
        if (!this.options.repeat) {
          this.pending = undefined;
          return false;
        }
        if (this.tokensThisPass === 0 && this.passStart === 0) {
          throw new DatasetError(`Dataset ${this.source.description} yields no tokens, so repeating it cannot fill a batch; check that it is not empty.`);
        }
        this.epoch++;
        this.nextDocument = 0;
        this.resumeOffset = 0;
        continue;
      }
      this.nextDocument++;
      this.documentsRead++;
      const tokens = this.tokenize(step.value);
      const offset = this.resumeOffset;
      this.resumeOffset = 0;
      if (tokens.length <= offset) continue;
      this.pending = tokens;
      this.pendingOffset = offset;
      this.tokensThisPass += tokens.length;
      return true;
    }
  }

  private tokenize(document: DatasetDocument): readonly number[] {
    if ('tokens' in document) return document.tokens;
    const { tokenizer } = this;
    if (tokenizer === undefined) {
      throw new ConfigError(`Dataset ${this.source.description} holds text but no tokenizer was given; pass a tokenizer (or a model that has one), or use a pre-tokenised dataset.`);
    }
    let ids = tokenizer.encode(document.text);
    if (this.options.prependBos) {
      if (tokenizer.bosTokenId === undefined) {
        throw new ConfigError('The tokenizer has no BOS token to prepend to each document; pass prependBos: false, or a tokenizer with bosTokenId.');
      }
      ids = [tokenizer.bosTokenId, ...ids];
    }
    return ids.length > this.options.documentTokenLimit ? ids.slice(0, this.options.documentTokenLimit) : ids;
  }
}
