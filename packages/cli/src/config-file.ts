import { ConfigError } from '@nnd/core';
import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { parse } from 'yaml';

/** Reads a JSON or YAML file (by extension) holding one mapping, e.g. a run config or a sweep. */
export async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  const absolute = resolve(path);
  const extension = extname(absolute).toLowerCase();
  if (!['.json', '.yaml', '.yml'].includes(extension)) {
    throw new ConfigError(`Config file ${JSON.stringify(path)} has extension '${extension}'; allowed: .json, .yaml or .yml.`);
  }
  let source: string;
  try {
    source = await readFile(absolute, 'utf8');
  } catch (cause) {
    throw new ConfigError(`Cannot read the config file ${JSON.stringify(absolute)}: ${(cause as Error).message}.`, { cause });
  }
  let value: unknown;
  try {
    value = extension === '.json' ? JSON.parse(source) : parse(source);
  } catch (cause) {
    throw new ConfigError(`Config file ${JSON.stringify(absolute)} is not valid ${extension === '.json' ? 'JSON' : 'YAML'}: ${(cause as Error).message.split('\n')[0]}`, { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`Config file ${JSON.stringify(absolute)} must hold a mapping of keys to values (key: value per line), got ${Array.isArray(value) ? 'a list' : JSON.stringify(value)}.`);
  }
  return value as Record<string, unknown>;
}
