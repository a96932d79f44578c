import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Tiny models saved by transformers with its outputs (see fixtures/hf-tiny/README.md), kept in the repository. */
export const HF_TINY = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/hf-tiny');
export const FIXTURE_NAMES = ['tiny-gpt2', 'tiny-gpt-neox', 'tiny-llama'] as const;

export interface Reference {
  input_ids: number[][];
  loss: number;
  logits: number[][][];
  hidden_states: number[][][][];
}

export function readReference(name: string): Reference {
  return JSON.parse(readFileSync(join(HF_TINY, name, 'reference.json'), 'utf8')) as Reference;
}

/** max |actual - expected| / max |expected|, the fixtures' parity measure. */
export function relativeError(actual: ArrayLike<number>, expected: readonly number[]): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs ${expected.length}`);
  let difference = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    difference = Math.max(difference, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return difference / scale;
}
