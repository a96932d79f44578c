import { ConfigError, type HostTensor } from '@nnd/core';
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** What we use of a transformers.js tokenizer. */
interface TransformersTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): number[];
  decode(ids: number[], options?: { skip_special_tokens?: boolean }): string;
  bos_token_id?: number | null;
  eos_token_id?: number | null;
  pad_token_id?: number | null;
}

export interface ToTokensOptions {
  /** Put the BOS token first, as TransformerLens does by default (default true). */
  prependBos?: boolean;
  /** Cut each sequence to `maxLength` tokens (default true). */
  truncate?: boolean;
  /** Length limit for truncation; the model's context length when called through a model. */
  maxLength?: number;
}

/**
 * A Hugging Face tokenizer (tokenizer.json) loaded through transformers.js'
 * AutoTokenizer from a local directory only: no request leaves the machine.
 */
export class Tokenizer {
  private constructor(
    private readonly inner: TransformersTokenizer,
    /** BOS id: the tokenizer's bos_token, else the model config's bos_token_id. */
    readonly bosTokenId: number | undefined,
    readonly padTokenId: number | undefined,
  ) {}

  static async fromDirectory(directory: string, fallback: { bosTokenId?: number; eosTokenId?: number } = {}): Promise<Tokenizer> {
    const absolute = resolve(directory);
    const file = join(absolute, 'tokenizer.json');
    if (!(await access(file).then(() => true, () => false))) {
      throw new ConfigError(`No tokenizer.json in ${JSON.stringify(absolute)}; add the model's tokenizer.json (and tokenizer_config.json) to tokenize text, or pass token ids.`);
    }
    // Imported on first use: transformers.js is large and only tokenizers need it.
    const { AutoTokenizer } = await import('@huggingface/transformers');
    let inner: TransformersTokenizer;
    try {
      // An absolute path is not a hub id, so transformers.js reads it from disk; local_files_only forbids any download.
      inner = (await AutoTokenizer.from_pretrained(absolute, { local_files_only: true })) as unknown as TransformersTokenizer;
    } catch (cause) {
      throw new ConfigError(`Cannot load the tokenizer in ${JSON.stringify(absolute)}: ${(cause as Error).message}`, { cause });
    }
    const id = (value: number | null | undefined) => (typeof value === 'number' ? value : undefined);
    return new Tokenizer(inner, id(inner.bos_token_id) ?? fallback.bosTokenId, id(inner.pad_token_id) ?? id(inner.eos_token_id) ?? fallback.eosTokenId);
  }

  /** Token ids of `text` without special tokens. */
  encode(text: string): number[] {
    return this.inner.encode(text, { add_special_tokens: false });
  }

  decode(ids: readonly (number | bigint)[] | BigInt64Array): string {
    return this.inner.decode(Array.from(ids, Number));
  }

  /**
   * TransformerLens' `to_tokens`: int64 [batch, seq] ids, BOS first unless
   * `prependBos` is false; several texts are right-padded to the longest with
   * the pad token (or EOS).
   */
  toTokens(input: string | readonly string[], options: ToTokensOptions = {}): HostTensor<'int64'> {
    const { prependBos = true, truncate = true, maxLength } = options;
    const texts = typeof input === 'string' ? [input] : input;
    if (prependBos && this.bosTokenId === undefined) {
      throw new ConfigError('toTokens: this tokenizer has no bos_token and the model config no bos_token_id; pass prependBos: false.');
    }
    const rows = texts.map((text) => {
      const ids = this.encode(text);
      const row = prependBos ? [this.bosTokenId!, ...ids] : ids;
      return truncate && maxLength !== undefined ? row.slice(0, maxLength) : row;
    });
    const length = Math.max(...rows.map((row) => row.length));
    if (rows.some((row) => row.length !== length) && this.padTokenId === undefined) {
      throw new ConfigError('toTokens: texts of different lengths need padding, but the tokenizer has no pad or eos token.');
    }
    const data = new BigInt64Array(rows.length * length).fill(BigInt(this.padTokenId ?? 0));
    rows.forEach((row, index) => row.forEach((id, position) => (data[index * length + position] = BigInt(id))));
    return { dtype: 'int64', shape: [rows.length, length], data };
  }
}
