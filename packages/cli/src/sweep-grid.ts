import { ConfigError, describeValue } from '@nnd/core';
import { RUN_NAME_FIELDS, runName } from '@nnd/logging';
import { dirname, isAbsolute, resolve } from 'node:path';
import { readConfigFile } from './config-file.js';
import { mergeConfigLayer } from './config-input.js';
import { parseSetOption } from './set-option.js';
import { memberConfigs, parseRunConfig, type RunConfig } from './run-config.js';

/** A grid: each key's values; the runs are every combination. */
export type Grid = Readonly<Record<string, readonly unknown[]>>;

export interface SweepPoint {
  /** The grid's values for this run. */
  readonly values: Readonly<Record<string, unknown>>;
  readonly config: RunConfig;
}

const SWEEP_KEYS = ['base', 'set', 'grid'];

/**
 * Every combination of a grid's values, the first key varying slowest; a
 * list of grids gives the runs of each in turn (e.g. k for the TopK types,
 * l1_coeff for the others).
 */
export function expandGrid(grid: unknown): Record<string, unknown>[] {
  if (Array.isArray(grid)) {
    if (grid.length === 0) throw new ConfigError("Invalid sweep: 'grid' is an empty list; allowed: a mapping of keys to lists of values, or a list of such mappings.");
    return grid.flatMap((part) => expandGrid(part));
  }
  if (typeof grid !== 'object' || grid === null) {
    throw new ConfigError(`Invalid sweep: 'grid' is ${describeValue(grid)}; allowed: a mapping of keys to lists of values (top_k: [16, 32, 64]), or a list of such mappings.`);
  }
  let points: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(grid)) {
    if (!Array.isArray(values) || values.length === 0) {
      throw new ConfigError(`Invalid sweep: grid key '${key}' is ${describeValue(values)}; allowed: a non-empty list of values, e.g. ${key}: [a, b].`);
    }
    points = points.flatMap((point) => values.map((value) => ({ ...point, [key]: value })));
  }
  return points;
}

/**
 * The runs of a sweep file (`base`: a config file, relative to the sweep
 * file, or an inline mapping; `set`: keys over the base; `grid`: see
 * expandGrid). `sets` (--set) apply over both, under the grid's values. Runs that the reference's
 * name would not tell apart (a grid over l1_coeff) get the differing
 * values appended to their names.
 */
export async function readSweep(path: string, sets: readonly string[] = []): Promise<SweepPoint[]> {
  const sweep = await readConfigFile(path);
  const unknown = Object.keys(sweep).filter((key) => !SWEEP_KEYS.includes(key));
  if (unknown.length > 0) throw new ConfigError(`Invalid sweep ${JSON.stringify(path)}: unknown key(s) ${unknown.map((key) => `'${key}'`).join(', ')}; allowed: ${SWEEP_KEYS.join(', ')}.`);
  if (sweep.grid === undefined) throw new ConfigError(`Invalid sweep ${JSON.stringify(path)}: 'grid' is missing; allowed: a mapping of keys to lists of values.`);
  let base: Record<string, unknown> = {};
  if (typeof sweep.base === 'string') base = await readConfigFile(isAbsolute(sweep.base) ? sweep.base : resolve(dirname(path), sweep.base));
  else if (typeof sweep.base === 'object' && sweep.base !== null && !Array.isArray(sweep.base)) base = sweep.base as Record<string, unknown>;
  else if (sweep.base !== undefined) throw new ConfigError(`Invalid sweep: 'base' is ${describeValue(sweep.base)}; allowed: a config file path or a mapping of config keys.`);
  if (sweep.set !== undefined) {
    if (typeof sweep.set !== 'object' || sweep.set === null || Array.isArray(sweep.set)) {
      throw new ConfigError(`Invalid sweep: 'set' is ${describeValue(sweep.set)}; allowed: a mapping of config keys that override the base for every run.`);
    }
    base = mergeConfigLayer(base, sweep.set as Record<string, unknown>);
  }
  for (const option of sets) base = mergeConfigLayer(base, Object.fromEntries([parseSetOption(option)]));

  const points = expandGrid(sweep.grid).map((values, index) => {
    try {
      return { values, config: parseRunConfig(mergeConfigLayer(base, values)) };
    } catch (error) {
      if (!ConfigError.isInstance(error)) throw error;
      throw new ConfigError(`Sweep run ${index + 1} (${describeValue(values)}): ${error.message}`, { cause: error });
    }
  });
  return uniquelyNamed(points, base.name !== undefined);
}

function uniquelyNamed(points: SweepPoint[], namedByUser: boolean): SweepPoint[] {
  const names = (list: SweepPoint[]) => list.flatMap((point) => memberConfigs(point.config).map((member) => member.name));
  const hasDuplicates = (list: SweepPoint[]) => new Set(names(list)).size !== names(list).length;
  if (!hasDuplicates(points)) return points;
  const renamed = points.map((point) => {
    const extra = Object.entries(point.values).filter(([key]) => !(RUN_NAME_FIELDS as readonly string[]).includes(key) && key !== 'name');
    const suffix = extra.map(([key, value]) => `_${key}_${typeof value === 'string' ? value : JSON.stringify(value)}`).join('');
    const name = `${
      namedByUser
        ? point.config.name
        : runName({
            ...point.config,
            sae_type: memberConfigs(point.config)
              .map((member) => member.sae_type)
              .join('+'),
          })
    }${suffix}`;
    return { ...point, config: { ...point.config, name } };
  });
  if (hasDuplicates(renamed)) {
    throw new ConfigError(
      `Invalid sweep: several runs would share a run directory (${names(renamed).find((name, index, all) => all.indexOf(name) !== index)}); vary a key of the name or give the grid distinct values.`,
    );
  }
  return renamed;
}
