import { describe, expect, it } from 'vitest';
import { DatasetError } from './dataset-error.js';
import { detectDocumentColumn, documentFromValue } from './document-column.js';

describe('detectDocumentColumn', () => {
  it('prefers tokens, then input_ids, then text, as the reference', () => {
    expect(detectDocumentColumn(['text', 'input_ids', 'tokens'], 'f')).toBe('tokens');
    expect(detectDocumentColumn(['text', 'meta', 'input_ids'], 'f')).toBe('input_ids');
    expect(detectDocumentColumn(['meta', 'text'], 'f')).toBe('text');
  });

  it('takes a requested column, and names the columns found when none fits', () => {
    expect(detectDocumentColumn(['content', 'text'], 'f', 'content')).toBe('content');
    expect(() => detectDocumentColumn(['content', 'url'], 'data.parquet')).toThrow(DatasetError);
    expect(() => detectDocumentColumn(['content', 'url'], 'data.parquet')).toThrow(
      /data\.parquet has none of the columns 'tokens', 'input_ids', 'text'.*its columns are 'content', 'url'.*column option/,
    );
    expect(() => detectDocumentColumn(['text'], 'f', 'body')).toThrow(/no column 'body'; its columns are 'text'/);
  });
});

describe('documentFromValue', () => {
  it('reads strings as text and integer arrays (numbers, bigints, typed arrays) as tokens', () => {
    expect(documentFromValue('hello', 'text', 'here')).toEqual({ text: 'hello' });
    expect(documentFromValue([1n, 2n], 'tokens', 'here')).toEqual({ tokens: [1, 2] });
    expect(documentFromValue(new Int32Array([3, 4]), 'input_ids', 'here')).toEqual({ tokens: [3, 4] });
  });

  it('rejects other values with the place and column', () => {
    expect(() => documentFromValue(null, 'text', 'a.jsonl:3')).toThrow(/a\.jsonl:3: column 'text' holds null/);
    expect(() => documentFromValue([1, -2], 'tokens', 'row 4')).toThrow(/row 4: column 'tokens' holds -2 at index 1/);
  });
});
