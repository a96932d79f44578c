import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root is three levels above packages/models/src; the shared folder sits beside the repository. */
const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const HF_TINY = join(repositoryRoot, '../shared/fixtures/hf-tiny');
export const FIXTURE_NAMES = ['tiny-gpt2', 'tiny-gpt-neox', 'tiny-llama'] as const;

export const fixturesPresent = existsSync(HF_TINY);
if (!fixturesPresent) console.warn(`[models] skipping Hugging Face parity tests: ${HF_TINY} is absent.`);

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
