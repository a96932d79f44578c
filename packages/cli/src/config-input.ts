import { readConfigFile } from './config-file.js';
import { parseRunConfig, type RunConfig } from './run-config.js';
import { parseSetOption } from './set-option.js';

/** The options that shape a run config on the command line, in the order they apply. */
export interface ConfigArguments {
  /** Keys below the file (e.g. a run directory's recorded config), overridden by it. */
  readonly base?: Readonly<Record<string, unknown>>;
  /** --config: a JSON or YAML file. */
  readonly configFile?: string;
  /** Dedicated flags (--model, --hook, --sae), over the file; undefined values are left out. */
  readonly flags?: Readonly<Record<string, unknown>>;
  /** --set key=value, last, in order. */
  readonly sets?: readonly string[];
}

/**
 * `hook_point` and `layer`/`site` say the same thing twice: a layer that
 * sets one side drops what earlier layers said on the other, so `--hook`
 * overrides a file's `layer`. Within one layer both must agree.
 */
export function mergeConfigLayer(accumulated: Readonly<Record<string, unknown>>, layer: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const result = { ...accumulated };
  if ('hook_point' in layer) {
    delete result.layer;
    delete result.site;
  }
  if ('layer' in layer || 'site' in layer) delete result.hook_point;
  return Object.assign(result, layer);
}

/** The raw config the options describe: base, then the file, then flags, then each --set. */
export async function rawRunConfig(input: ConfigArguments): Promise<Record<string, unknown>> {
  let config = mergeConfigLayer({}, input.base ?? {});
  if (input.configFile !== undefined) config = mergeConfigLayer(config, await readConfigFile(input.configFile));
  config = mergeConfigLayer(config, Object.fromEntries(Object.entries(input.flags ?? {}).filter(([, value]) => value !== undefined)));
  for (const option of input.sets ?? []) {
    const [key, value] = parseSetOption(option);
    config = mergeConfigLayer(config, { [key]: value });
  }
  return config;
}

/** Validates what `rawRunConfig` assembles. */
export async function resolveRunConfig(input: ConfigArguments): Promise<RunConfig> {
  return parseRunConfig(await rawRunConfig(input));
}
