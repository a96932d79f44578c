import type { HostTensor } from '@nnd/core';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { writeFile } from 'node:fs/promises';
import type { ActivationModel } from './activation-model.js';
import type { DatasetDocument, DocumentSource } from './dataset-document.js';
import type { TextTokenizer } from './text-tokenizer.js';

export const BYTE_BOS = 256;
export const BYTE_EOS = 257;

/** UTF-8 bytes as token ids, BOS 256 and EOS 257: the simplest tokenizer with special tokens. */
export function byteTokenizer(options: { bos?: number | undefined; special?: number[] } = {}): TextTokenizer {
  const encoder = new TextEncoder();
  return {
    encode: (text) => Array.from(encoder.encode(text)),
    bosTokenId: 'bos' in options ? options.bos : BYTE_BOS,
    specialTokenIds: options.special ?? [BYTE_EOS],
  };
}

/** Documents held in memory. */
export function memorySource(documents: readonly DatasetDocument[], description = 'memory'): DocumentSource {
  return {
    description,
    async *documents(start = 0) {
      for (let index = start; index < documents.length; index++) yield documents[index];
    },
  };
}

/** Texts 'doc 0 ...', 'doc 1 ...' of varied lengths. */
export function numberedTexts(count: number, length = 40): DatasetDocument[] {
  return Array.from({ length: count }, (_, index) => ({ text: `doc ${index} `.padEnd(length - (index % 7), String.fromCharCode(97 + (index % 26))) }));
}

/** Identifies a token batch by its content, so two model instances fed the same tokens agree (below 65504, exact in float32 and finite in float16). */
export function batchId(tokens: BigInt64Array): number {
  let hash = 17;
  for (const token of tokens) hash = (hash * 31 + Number(token)) % 60_013;
  return hash;
}

/**
 * A model whose activations say where they came from: at every position of
 * every run, the row is [batch id, flat position, token id + 1000 * hook
 * index] (then zeros), so tests can check which positions a batch holds.
 */
export class FakeModel implements ActivationModel {
  readonly name = 'fake';
  calls = 0;
  /** batchId of each run's tokens, in call order. */
  readonly batchIds: number[] = [];
  /** Token ids of each run, flattened. */
  readonly tokens: BigInt64Array[] = [];
  readonly requestedHooks: (readonly string[])[] = [];

  constructor(
    readonly contextLength = 64,
    readonly tokenizer: TextTokenizer | undefined = byteTokenizer(),
    private readonly size = 3,
    private readonly hooks: readonly string[] = ['blocks.0.hook_resid_pre', 'blocks.1.hook_resid_pre'],
  ) {}

  activationSize(hook: string): number {
    if (!this.hooks.includes(hook)) throw new Error(`fake model has no hook ${hook}`);
    return this.size;
  }

  async harvest(tokens: HostTensor<'int64'>, hooks: readonly string[]): Promise<Record<string, Float32Array>> {
    this.calls++;
    const id = batchId(tokens.data);
    this.batchIds.push(id);
    this.tokens.push(tokens.data);
    this.requestedHooks.push(hooks);
    // A real model run resolves on another tick; so does this one.
    await new Promise((resolve) => setImmediate(resolve));
    const result: Record<string, Float32Array> = {};
    hooks.forEach((hook, hookIndex) => {
      const values = new Float32Array(tokens.data.length * this.size);
      for (let position = 0; position < tokens.data.length; position++) {
        values[position * this.size] = id;
        values[position * this.size + 1] = position;
        values[position * this.size + 2] = Number(tokens.data[position]) + 1000 * hookIndex;
      }
      result[hook] = values;
    });
    return result;
  }
}

/** Rows of a [rows, size] batch as 'batch id:position' keys. */
export function rowKeys(batch: Float32Array, size = 3): string[] {
  const keys: string[] = [];
  for (let row = 0; row * size < batch.length; row++) keys.push(`${batch[row * size]}:${batch[row * size + 1]}`);
  return keys;
}

/** Writes a Parquet file of one text column or one list<int64> column, in row groups of `rowGroupSize`. */
export async function writeParquet(path: string, columns: Record<string, readonly string[] | readonly (readonly number[])[]>, rowGroupSize = 1000): Promise<void> {
  const names = Object.keys(columns);
  const schema: Record<string, unknown>[] = [{ name: 'root', num_children: names.length }];
  const columnData = names.map((name) => {
    const data = columns[name];
    if (typeof data[0] === 'string') {
      schema.push({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' });
      return { name, data: [...data] };
    }
    schema.push(
      { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', type: 'INT64', repetition_type: 'REQUIRED' },
    );
    return { name, data: (data as readonly (readonly number[])[]).map((row) => row.map(BigInt)) };
  });
  const buffer = parquetWriteBuffer({ columnData, schema, rowGroupSize } as unknown as Parameters<typeof parquetWriteBuffer>[0]);
  await writeFile(path, new Uint8Array(buffer));
}

/** Collects a source's documents. */
export async function collect(source: DocumentSource, start?: number): Promise<DatasetDocument[]> {
  const documents: DatasetDocument[] = [];
  for await (const document of source.documents(start)) documents.push(document);
  return documents;
}
