/**
 * What the packer needs from a tokenizer. `@nnd/models`' Tokenizer satisfies
 * it; so does any object with an `encode` that adds no special tokens.
 */
export interface TextTokenizer {
  /** Token ids of `text`, without special tokens (BOS is added by the packer). */
  encode(text: string): number[];
  /** Prepended to every text document, as TransformerLens' `to_tokens(prepend_bos=True)` does. */
  readonly bosTokenId?: number;
  /** Ids besides BOS (EOS, padding) whose positions `excludeSpecialTokens` drops from the activations. */
  readonly specialTokenIds?: readonly number[];
}

/** BOS and the other special ids of a tokenizer, without duplicates. */
export function specialTokenIdsOf(tokenizer: TextTokenizer | undefined): number[] {
  if (tokenizer === undefined) return [];
  const ids = [...(tokenizer.bosTokenId === undefined ? [] : [tokenizer.bosTokenId]), ...(tokenizer.specialTokenIds ?? [])];
  return [...new Set(ids)];
}
