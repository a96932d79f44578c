import type { HostTensor } from './dtype.js';
import type { Decomposition } from './decomposition.js';
import type { Rng } from './rng.js';

/**
 * The parameters a run of `decomposition` seeded with `rng` starts from:
 * its `initialParams` draw, then its `prepareInitialParams` if it has one.
 * The trainer starts a plain run from exactly these; handing them back as
 * `initialTensors` with the same seed trains identically without preparing
 * them again.
 */
export function initialTrainingParams(decomposition: Decomposition, rng: Rng): Record<string, HostTensor> {
  const drawn = decomposition.initialParams(rng);
  return decomposition.prepareInitialParams?.(drawn) ?? drawn;
}
