import { ConfigError } from '@nnd/core';
import type { StorePosition } from './multi-hook-activations-store.js';

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/**
 * A store position read back from a checkpoint (JSON, so untrusted): the
 * shape `position()` writes, with counts that are non-negative integers and
 * an RNG state of four 32-bit words. Throws a ConfigError naming the field.
 */
export function parseStorePosition(value: unknown, where: string): StorePosition {
  const fail = (problem: string) =>
    new ConfigError(`${where}: the recorded store position ${problem}; it was not written by an ActivationsStore. Resume from a checkpoint of this run, or start a new run.`);
  if (!isRecord(value)) throw fail(`is ${JSON.stringify(value)}, not an object`);
  const { batchesServed, rowOffset, buffer } = value;
  if (!isCount(batchesServed)) throw fail(`has batchesServed ${JSON.stringify(batchesServed)}`);
  if (!isCount(rowOffset)) throw fail(`has rowOffset ${JSON.stringify(rowOffset)}`);
  if (!isRecord(buffer) || !isRecord(buffer.source) || !isRecord(buffer.rng)) throw fail('has no buffer { source, rng }');
  const { epoch, document, token } = buffer.source;
  if (!isCount(epoch) || !isCount(document) || !isCount(token)) throw fail(`has dataset position ${JSON.stringify(buffer.source)}`);
  const { algorithm, words } = buffer.rng;
  if (algorithm !== 'xoshiro128**' || !Array.isArray(words) || words.length !== 4 || !words.every((word) => Number.isInteger(word) && word >= 0 && word < 2 ** 32)) {
    throw fail(`has RNG state ${JSON.stringify(buffer.rng)}`);
  }
  return {
    batchesServed,
    rowOffset,
    buffer: { source: { epoch, document, token }, rng: { algorithm, words: [words[0], words[1], words[2], words[3]] } },
  };
}
