import { ConfigError } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { DatasetError } from './dataset-error.js';
import { byteTokenizer, memorySource } from './test-fixtures.test-support.js';
import { TokenPacker, type PackingOptions } from './token-packer.js';

const documents = memorySource([{ text: 'ab' }, { text: 'cde' }, { text: 'f' }, { text: 'ghij' }]);
const reference: PackingOptions = { rows: 2, sequenceLength: 3, documentTokenLimit: Infinity, prependBos: true, keepRemainder: false, repeat: false };

async function rows(packer: TokenPacker): Promise<number[][][]> {
  const batches: number[][][] = [];
  for (let batch = await packer.next(); batch !== undefined; batch = await packer.next()) {
    expect(batch.shape).toEqual([packer.rows, packer.sequenceLength]);
    const values = Array.from(batch.data, Number);
    batches.push(Array.from({ length: packer.rows }, (_, row) => values.slice(row * packer.sequenceLength, (row + 1) * packer.sequenceLength)));
  }
  return batches;
}

describe('TokenPacker', () => {
  it('packs like the reference: BOS per document, concatenate to rows x seq, drop the rest, stop when the data ends', async () => {
    // a=97 ... j=106, BOS=256. Batch 1 reads 'ab' (3 tokens) and 'cde' (4): 7 >= 6, so 'e' (101) is dropped.
    // Batch 2 reads 'f' (2) and 'ghij' (5), dropping 'j' (106). Batch 3 has no documents left.
    const packer = new TokenPacker(documents, byteTokenizer(), reference);
    expect(await rows(packer)).toEqual([
      [
        [256, 97, 98],
        [256, 99, 100],
      ],
      [
        [256, 102, 256],
        [103, 104, 105],
      ],
    ]);
    expect(packer.documentCount).toBe(4);
  });

  it('keepRemainder carries the tokens past a full batch into the next one', async () => {
    const packer = new TokenPacker(documents, byteTokenizer(), { ...reference, keepRemainder: true });
    expect(await rows(packer)).toEqual([
      [
        [256, 97, 98],
        [256, 99, 100],
      ],
      [
        [101, 256, 102],
        [256, 103, 104],
      ],
    ]);
  });

  it('truncates each text document to documentTokenLimit tokens, BOS included (the reference truncates at n_ctx)', async () => {
    const packer = new TokenPacker(documents, byteTokenizer(), { ...reference, rows: 1, sequenceLength: 5, documentTokenLimit: 3 });
    // 'cde' -> [256, 99, 100], 'ghij' -> [256, 103, 104].
    expect(await rows(packer)).toEqual([[[256, 97, 98, 256, 99]], [[256, 102, 256, 103, 104]]]);
  });

  it('uses pre-tokenised documents as they are, without BOS or truncation', async () => {
    const source = memorySource([{ tokens: [5, 6, 7, 8, 9] }, { tokens: [1, 2] }]);
    const packer = new TokenPacker(source, undefined, { ...reference, rows: 1, sequenceLength: 3, documentTokenLimit: 2 });
    // Truncation to 2 would give [5, 6, 1]; the rest of the first document is dropped and [1, 2] cannot fill a batch.
    expect(await rows(packer)).toEqual([[[5, 6, 7]]]);
  });

  it('resumes from position() with the same batches', async () => {
    const options = { ...reference, keepRemainder: true };
    const first = new TokenPacker(documents, byteTokenizer(), options);
    await first.next();
    const position = first.position();
    expect(position).toEqual({ epoch: 0, document: 1, token: 3 });
    const resumed = new TokenPacker(documents, byteTokenizer(), options, position);
    expect(await rows(resumed)).toEqual(await rows(first));
  });

  it('repeat starts the dataset again and counts passes in the position', async () => {
    const packer = new TokenPacker(memorySource([{ text: 'ab' }]), byteTokenizer(), { ...reference, rows: 1, sequenceLength: 4, repeat: true });
    expect(Array.from((await packer.next())!.data, Number)).toEqual([256, 97, 98, 256]);
    expect(packer.position().epoch).toBe(1);
    await expect(new TokenPacker(memorySource([]), byteTokenizer(), { ...reference, repeat: true }).next()).rejects.toThrow(DatasetError);
  });

  it('says what is missing when text has no tokenizer or the tokenizer no BOS', async () => {
    await expect(new TokenPacker(documents, undefined, reference).next()).rejects.toThrow(/holds text but no tokenizer/);
    const noBos = byteTokenizer({ bos: undefined });
    await expect(new TokenPacker(documents, noBos, reference).next()).rejects.toThrow(/prependBos: false/);
    expect(Array.from((await new TokenPacker(documents, noBos, { ...reference, prependBos: false }).next())!.data, Number)).toEqual([97, 98, 99, 100, 101, 102]);
    expect(() => new TokenPacker(documents, noBos, { ...reference, rows: 0 })).toThrow(ConfigError);
  });
});
