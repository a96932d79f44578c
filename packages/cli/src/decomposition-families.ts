import { ConfigError, describeValue, type DecompositionFamily } from '@nnd/core';
import { cltFamily } from '@nnd/clt';
import { moltFamily } from '@nnd/molt';
import { saeFamily } from '@nnd/sae';
import { spdFamily } from '@nnd/spd';
import { transcoderFamily } from '@nnd/transcoders';

/**
 * The decomposition packages `nnd` trains, by the run config's
 * `decomposition` key. Adding a family is adding its package here; nothing
 * else in the CLI names an architecture.
 */
export const DECOMPOSITION_FAMILIES: readonly DecompositionFamily[] = [saeFamily, transcoderFamily, cltFamily, moltFamily, spdFamily];

export const DEFAULT_FAMILY = 'sae';

export function familyNamed(name: unknown): DecompositionFamily {
  const family = DECOMPOSITION_FAMILIES.find((candidate) => candidate.name === name);
  if (family === undefined) {
    throw new ConfigError(`Invalid config: 'decomposition' is ${describeValue(name)}; allowed: ${DECOMPOSITION_FAMILIES.map(({ name: known, summary }) => `'${known}' (${summary})`).join(', ')}.`);
  }
  return family;
}
