import { stringify } from 'yaml';
import { defaultRunConfig } from './run-config.js';

/** The "Config keys" part of a command's help: every key with its default, as YAML a config file can start from. */
export function configKeysHelp(): string {
  const defaults = defaultRunConfig();
  const lines = stringify({ ...defaults, hook_point: defaults.hook_point, name: defaults.name }, { lineWidth: 0 }).trimEnd().split('\n');
  return [
    'Config keys (JSON or YAML, --set key=value), with their defaults (the reference\'s, bartbussmann/BatchTopK config.py);',
    'hook_point is derived from site and layer and name from the other keys, unless given:',
    ...lines.map((line) => `  ${line}`),
    'Also: wandb (true/false; default on when WANDB_API_KEY is set), wandb_entity.',
  ].join('\n');
}
