/** Special tokens of the byte-level vocabulary, after the 256 bytes. */
export const BYTE_LEVEL_BOS = '<|bos|>';
export const BYTE_LEVEL_EOS = '<|endoftext|>';
export const BYTE_LEVEL_BOS_ID = 256;
export const BYTE_LEVEL_EOS_ID = 257;
export const BYTE_LEVEL_VOCAB_SIZE = 258;

/**
 * GPT-2's reversible byte-to-character map: printable Latin-1 bytes map to
 * themselves, the rest to code points from 256 up, so every byte sequence is
 * a string of visible characters (what the ByteLevel pre-tokenizer emits).
 */
function bytesToUnicode(): string[] {
  const kept: number[] = [];
  for (let byte = 0x21; byte <= 0x7e; byte++) kept.push(byte);
  for (let byte = 0xa1; byte <= 0xac; byte++) kept.push(byte);
  for (let byte = 0xae; byte <= 0xff; byte++) kept.push(byte);
  const characters: string[] = new Array(256);
  let next = 256;
  for (let byte = 0; byte < 256; byte++) characters[byte] = String.fromCodePoint(kept.includes(byte) ? byte : next++);
  return characters;
}

/**
 * A Hugging Face `tokenizer.json` whose tokens are single bytes (id = byte
 * value) plus BOS (256) and EOS (257): a BPE model with no merges over the
 * byte-level pre-tokenizer, loadable by `tokenizers`, transformers'
 * AutoTokenizer and transformers.js. Byte-level text needs no unknown token.
 */
export function byteLevelTokenizerJson(): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  bytesToUnicode().forEach((character, byte) => (vocab[character] = byte));
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  vocab[BYTE_LEVEL_BOS] = BYTE_LEVEL_BOS_ID;
  vocab[BYTE_LEVEL_EOS] = BYTE_LEVEL_EOS_ID;
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(BYTE_LEVEL_BOS_ID, BYTE_LEVEL_BOS), special(BYTE_LEVEL_EOS_ID, BYTE_LEVEL_EOS)],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
}

/** The `tokenizer_config.json` that goes with byteLevelTokenizerJson. */
export function byteLevelTokenizerConfig(contextLength: number): Record<string, unknown> {
  return {
    tokenizer_class: 'GPT2Tokenizer',
    bos_token: BYTE_LEVEL_BOS,
    eos_token: BYTE_LEVEL_EOS,
    pad_token: BYTE_LEVEL_EOS,
    add_bos_token: false,
    add_prefix_space: false,
    clean_up_tokenization_spaces: false,
    model_max_length: contextLength,
  };
}
