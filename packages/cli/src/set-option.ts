import { ConfigError } from '@nnd/core';
import { parse } from 'yaml';

/**
 * Parses one `--set key=value`. The value is read as YAML, so `lr=1e-4` is
 * a number, `input_unit_norm=false` a boolean, `sae_type=[topk,batchtopk]`
 * a list and `model_name=gpt2` a string; quote it to keep digits a string
 * (`name='42'`).
 */
export function parseSetOption(option: string): [key: string, value: unknown] {
  const equals = option.indexOf('=');
  if (equals < 0) throw new ConfigError(`--set ${JSON.stringify(option)} has no '='; write --set key=value, e.g. --set lr=1e-4.`);
  const key = option.slice(0, equals).trim();
  const source = option.slice(equals + 1).trim();
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
    throw new ConfigError(`--set ${JSON.stringify(option)}: the key ${JSON.stringify(key)} is not a config key (letters, digits and '_'); write --set key=value.`);
  }
  if (source === '') throw new ConfigError(`--set ${JSON.stringify(option)} gives '${key}' no value; write --set ${key}=VALUE (null for none).`);
  try {
    return [key, parse(source)];
  } catch (cause) {
    throw new ConfigError(`--set ${JSON.stringify(option)}: the value ${JSON.stringify(source)} is not valid YAML (${(cause as Error).message.split('\n')[0]}); quote it if it is a string.`, {
      cause,
    });
  }
}
