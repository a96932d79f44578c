import { ConfigError, type HostTensor } from '@nnd/core';
import { Tokenizer as HuggingFaceTokenizer } from '@huggingface/tokenizers';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export interface ToTokensOptions {
  /** Put the BOS token first, as TransformerLens does by default (default true). */
  prependBos?: boolean;
  /** Cut each sequence to `maxLength` tokens (default true). */
  truncate?: boolean;
  /** Length limit for truncation; the model's context length when called through a model. */
  maxLength?: number;
}

/**
 * A special token named in tokenizer_config.json: a string, or an AddedToken
 * object ({ __type: 'AddedToken', content }), as transformers.js reads it.
 */
function specialToken(config: Record<string, unknown>, ...keys: string[]): string | undefined {
  for (const key of keys) {
    const item = config[key];
    if (typeof item === 'string' && item !== '') return item;
    if (typeof item === 'object' && item !== null && typeof (item as { content?: unknown }).content === 'string') return (item as { content: string }).content;
  }
  return undefined;
}

async function readJsonFile(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`Cannot read ${JSON.stringify(path)}: ${(cause as Error).message}`, { cause });
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (cause) {
    throw new ConfigError(`${JSON.stringify(path)} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
}

/**
 * A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) read
 * from a local directory by @huggingface/tokenizers, the library
 * transformers.js' AutoTokenizer itself delegates to for these models: the
 * same encoding, and the special tokens taken from tokenizer_config.json as
 * AutoTokenizer takes them. Nothing is fetched.
 */
export class Tokenizer {
  private constructor(
    private readonly inner: HuggingFaceTokenizer,
    /** BOS id: the tokenizer's bos_token, else the model config's bos_token_id. */
    readonly bosTokenId: number | undefined,
    readonly padTokenId: number | undefined,
  ) {}

  static async fromDirectory(directory: string, fallback: { bosTokenId?: number; eosTokenId?: number } = {}): Promise<Tokenizer> {
    const absolute = resolve(directory);
    const tokenizerJson = await readJsonFile(join(absolute, 'tokenizer.json'));
    if (tokenizerJson === undefined) {
      throw new ConfigError(`No tokenizer.json in ${JSON.stringify(absolute)}; add the model's tokenizer.json (and tokenizer_config.json) to tokenize text, or pass token ids.`);
    }
    // Older checkpoints have no tokenizer_config.json; special tokens then come from the model config.
    const config = (await readJsonFile(join(absolute, 'tokenizer_config.json'))) ?? {};
    let inner: HuggingFaceTokenizer;
    try {
      inner = new HuggingFaceTokenizer(tokenizerJson, config);
    } catch (cause) {
      throw new ConfigError(`Cannot load the tokenizer in ${JSON.stringify(absolute)}: ${(cause as Error).message}`, { cause });
    }
    const id = (token: string | undefined) => (token === undefined ? undefined : inner.token_to_id(token));
    // As transformers.js: pad falls back to the eos token.
    const pad = id(specialToken(config, 'pad_token', 'eos_token'));
    return new Tokenizer(inner, id(specialToken(config, 'bos_token')) ?? fallback.bosTokenId, pad ?? fallback.eosTokenId);
  }

  /** Token ids of `text` without special tokens. */
  encode(text: string): number[] {
    return this.inner.encode(text, { add_special_tokens: false }).ids;
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
