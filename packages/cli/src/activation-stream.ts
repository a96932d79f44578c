import {
  ActivationsStore, hookedTransformerActivations, MultiHookActivationsStore, openDataset, type ActivationModel, type HarvestSettings,
} from '@nnd/activations';
import { ConfigError, type ActivationPort } from '@nnd/core';
import type { HookedTransformer } from '@nnd/models';
import type { ActivationSource } from '@nnd/train';
import { resolve } from 'node:path';
import type { RunConfig } from './run-config.js';

/** The model as the activation store sees it, named by the run's `model_name`. */
export function activationModel(model: HookedTransformer, config: Pick<RunConfig, 'model_name'>): ActivationModel {
  return hookedTransformerActivations(model, { name: config.model_name });
}

/** A hook's width in the model, with the hook named in the error when the model has no such hook. */
export function hookWidthOf(model: ActivationModel): (hook: string) => number {
  return (hook) => model.activationSize(hook);
}

/** How the run's keys turn documents into model batches (shared by training and `nnd cache`). */
export async function harvestSettings(model: ActivationModel, config: RunConfig, log: (message: string) => void): Promise<HarvestSettings> {
  const limit = config.document_token_limit;
  return {
    model,
    dataset: await openDataset(config.dataset_path),
    sequenceLength: config.seq_len,
    modelBatchSize: config.model_batch_size,
    documentTokenLimit: limit === 'context' ? undefined : limit === 'none' ? Infinity : limit,
    keepRemainder: config.keep_remainder,
    excludeSpecialTokens: config.exclude_special_tokens,
    repeatDataset: config.repeat_dataset,
    log,
  };
}

/**
 * The batches a run trains on, one stream per hook its decompositions read
 * or write: the reference's ActivationsStore (the model runs as training
 * goes; several hooks come from one model run, token-aligned and shuffled
 * together), or an activation cache written by `nnd cache` when
 * `activation_cache` names one (one hook).
 */
export async function openActivationSource(
  model: ActivationModel | undefined,
  config: RunConfig,
  streams: readonly ActivationPort[],
  log: (message: string) => void,
): Promise<ActivationSource> {
  if (config.activation_cache !== null) {
    const store = await ActivationsStore.fromCache(resolve(config.activation_cache), { batchSize: config.batch_size, seed: config.seed, log });
    const [stream] = streams;
    if (streams.length !== 1 || store.hook !== stream.hook || store.activationSize !== stream.width) {
      throw new ConfigError(
        `Invalid config: 'activation_cache' is ${JSON.stringify(config.activation_cache)}, which holds ${store.hook} (width ${store.activationSize}), ` +
          `but the run reads and writes ${streams.map(({ hook, width }) => `${hook} (width ${width})`).join(', ')}; allowed: a cache of the run's one hook, or no activation_cache.`,
      );
    }
    return store;
  }
  if (model === undefined) throw new ConfigError('Invalid config: without activation_cache the run needs its model to harvest activations.');
  const settings = {
    ...(await harvestSettings(model, config, log)),
    batchesInBuffer: config.num_batches_in_buffer,
    batchSize: config.batch_size,
    seed: config.seed,
  };
  if (streams.length === 1) return new ActivationsStore({ ...settings, hookPoint: streams[0].hook });
  // The store prints its streams and its memory footprint (two buffers while the next one fills).
  return new MultiHookActivationsStore({ ...settings, hookPoints: streams.map(({ hook }) => hook) });
}
