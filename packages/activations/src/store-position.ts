import { ConfigError } from '@nnd/core';
import type { CachedStorePosition, CachePosition } from './cached-activations-store.js';
import type { StorePosition } from './multi-hook-activations-store.js';
import type { BufferPosition } from './shuffle-buffer.js';
import type { DatasetPosition } from './token-packer.js';

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/**
 * A buffer position read back from a checkpoint (JSON, so untrusted): the
 * shape `position()` writes, with counts that are non-negative integers and
 * an RNG state of four 32-bit words; `source` reads the store's own part
 * (undefined when it is malformed). Throws a ConfigError naming the field.
 */
function parseBufferPosition<P>(value: unknown, where: string, store: string, source: (value: Record<string, unknown>) => P | undefined, sourceName: string): BufferPosition<P> {
  const fail = (problem: string) => new ConfigError(`${where}: the recorded store position ${problem}; it was not written by ${store}. Resume from a checkpoint of this run, or start a new run.`);
  if (!isRecord(value)) throw fail(`is ${JSON.stringify(value)}, not an object`);
  const { batchesServed, rowOffset, buffer } = value;
  if (!isCount(batchesServed)) throw fail(`has batchesServed ${JSON.stringify(batchesServed)}`);
  if (!isCount(rowOffset)) throw fail(`has rowOffset ${JSON.stringify(rowOffset)}`);
  if (!isRecord(buffer) || !isRecord(buffer.source) || !isRecord(buffer.rng)) throw fail('has no buffer { source, rng }');
  const parsed = source(buffer.source);
  if (parsed === undefined) throw fail(`has ${sourceName} ${JSON.stringify(buffer.source)}`);
  const { algorithm, words } = buffer.rng;
  if (algorithm !== 'xoshiro128**' || !Array.isArray(words) || words.length !== 4 || !words.every((word) => Number.isInteger(word) && word >= 0 && word < 2 ** 32)) {
    throw fail(`has RNG state ${JSON.stringify(buffer.rng)}`);
  }
  return { batchesServed, rowOffset, buffer: { source: parsed, rng: { algorithm, words: [words[0], words[1], words[2], words[3]] } } };
}

/** A live store's position (ActivationsStore, MultiHookActivationsStore) read back from a checkpoint. */
export function parseStorePosition(value: unknown, where: string): StorePosition {
  const dataset = ({ epoch, document, token }: Record<string, unknown>): DatasetPosition | undefined =>
    isCount(epoch) && isCount(document) && isCount(token) ? { epoch, document, token } : undefined;
  return parseBufferPosition(value, where, 'an ActivationsStore', dataset, 'dataset position');
}

/** A cache reader's position (CachedActivationsStore, CachedMultiHookActivationsStore) read back from a checkpoint. */
export function parseCachedStorePosition(value: unknown, where: string): CachedStorePosition {
  const cache = ({ epoch, shard, batch }: Record<string, unknown>): CachePosition | undefined => {
    if (!isCount(epoch) || !isCount(shard)) return undefined;
    if (batch === undefined) return { epoch, shard };
    return isCount(batch) ? { epoch, shard, batch } : undefined;
  };
  return parseBufferPosition(value, where, 'a CachedActivationsStore', cache, 'cache position');
}
