import { streamsOf } from '@nnd/core';
import { createHash } from 'node:crypto';
import { harvestToCache } from '@nnd/activations';
import type { Command } from './command.js';
import { parseCommandLine, positiveIntegerOption } from './command-line.js';
import { configKeysHelp } from './config-help.js';
import { resolveRunConfig } from './config-input.js';
import { activationModel, harvestSettings, hookWidthOf } from './activation-stream.js';
import { familyNamed } from './decomposition-families.js';
import { EXIT_CODES } from './exit-codes.js';
import { InterruptedError } from './interrupted-error.js';
import { interruptSignalOf } from './interrupt-watcher.js';
import { JobResources } from './job-resources.js';
import type { RunConfig } from './run-config.js';

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  set: { type: 'string', short: 's', multiple: true },
  model: { type: 'string' },
  hook: { type: 'string' },
  out: { type: 'string', short: 'o' },
  tokens: { type: 'string' },
} as const;

/**
 * Where `nnd cache` writes when neither --out nor activation_cache says:
 * `cache/{model_name}_{hook}` for a run of one hook; for several, the first
 * hook, their count and a digest of the list, so that two runs needing other
 * hooks never share a directory and a file name stays short with 24 hooks.
 */
function defaultCacheDirectory(config: Pick<RunConfig, 'model_name' | 'hook_point'>, hooks: readonly string[] = [config.hook_point]): string {
  const model = config.model_name.replaceAll('/', '__');
  if (hooks.length === 1) return `cache/${model}_${hooks[0]}`;
  const digest = createHash('sha256').update(hooks.join('\n')).digest('hex').slice(0, 8);
  return `cache/${model}_${hooks[0]}_and_${hooks.length - 1}_more_${digest}`;
}

export const cacheCommand: Command = {
  name: 'cache',
  summary: 'harvest activations at a hook into an on-disk cache that training can reuse',
  help: () => `Usage: nnd cache [--config FILE] [--set KEY=VALUE ...] [--model NAME] [--hook HOOK] [--out DIR] [--tokens N]

Runs the model over the dataset as training would (same packing, same keys)
and writes the activations at every hook the run's decompositions read and
write (an SAE's hook_point; a transcoder's input and target; a CLT's 2n
layers), all from one model pass and row-aligned, to DIR: safetensors shards
(float32, or float16 with cache_dtype: float16) and a manifest with their
sha256s. A run with activation_cache: DIR trains from it without running the
model, on the batches it would have had without the cache (the same seed and
num_batches_in_buffer), as long as it reads no more tokens than DIR holds.
An interrupted harvest (Ctrl-C) keeps its finished shards; running the same
command again continues after them.

Options:
  -c, --config FILE      JSON or YAML file of config keys (see nnd train --help)
  -s, --set KEY=VALUE    set one key (repeatable)
      --model NAME       model_name
      --hook HOOK        hook_point, e.g. blocks.2.hook_resid_pre
  -o, --out DIR          the cache directory (default: activation_cache, else
                         cache/{model_name}_{hook_point}, or for several hooks
                         cache/{model_name}_{first hook}_and_{n}_more_{digest})
      --tokens N         activations (tokens) to harvest (default: num_tokens
                         and one buffer more, num_batches_in_buffer x
                         model_batch_size x seq_len, so that the run's last
                         buffer is whole in the cache)
  -h, --help             this help

Example:
  nnd cache --config examples/train-topk/config.yaml --tokens 2000000
  nnd train --config examples/train-topk/config.yaml --set activation_cache=cache/tiny-lm_blocks.2.hook_resid_pre
  nnd cache --config examples/train-clt/config.yaml --out cache/clt
  nnd train --config examples/train-clt/config.yaml --set activation_cache=cache/clt

${configKeysHelp()}
`,
  async run(args, io) {
    const { values } = parseCommandLine('cache', args, OPTIONS);
    if (values.help) {
      io.stdout(this.help());
      return EXIT_CODES.ok;
    }
    const tokens = positiveIntegerOption('cache', 'tokens', values.tokens);
    const config = await resolveRunConfig({ configFile: values.config, flags: { model_name: values.model, hook_point: values.hook }, sets: values.set });
    const resources = new JobResources(io.env);
    try {
      const model = await resources.model(config);
      const activations = activationModel(model, config);
      // The run's decompositions say which streams they need (and check the widths the config states).
      const family = familyNamed(config.decomposition);
      const hooks = streamsOf(family.members(config, hookWidthOf(activations)).map((member) => family.create(member.config))).map(({ hook }) => hook);
      const directory = values.out ?? config.activation_cache ?? defaultCacheDirectory(config, hooks);
      const log = (message: string) => io.stderr(`${message}\n`);
      // One buffer more than the run reads, so that the buffer its last batch comes from is whole in the cache too
      // (a cache's last buffer is cut short where the live store's is not).
      const totalRows = tokens ?? config.num_tokens + config.num_batches_in_buffer * config.model_batch_size * config.seq_len;
      const result = await harvestToCache({
        ...(await harvestSettings(activations, config, log)),
        directory,
        hookPoints: hooks,
        totalRows,
        dtype: config.cache_dtype,
        signal: io.signal,
        onShard: (_, manifest) => log(`cache ${directory}: ${manifest.rows} / ${manifest.targetRows} rows (${manifest.shards.length} shards)`),
      });
      if (!result.complete && io.signal.aborted) {
        throw new InterruptedError(`Interrupted: ${result.rows} rows in ${result.shards} shards are in ${result.directory}; run the same command again to continue.`, interruptSignalOf(io.signal));
      }
      io.stdout(
        `Activation cache: ${result.directory}\nRows: ${result.rows} of ${hooks.join(', ')} (${result.shards} shards)${result.datasetExhausted ? ', the dataset ran out' : ''}\n` +
          `Train from it with: --set activation_cache=${directory}\n`,
      );
    } finally {
      await resources.dispose();
    }
    return EXIT_CODES.ok;
  },
};
