import {
  ActivationsStore, hookedTransformerActivations, openDataset, type ActivationModel, type HarvestSettings,
} from '@nnd/activations';
import { ConfigError } from '@nnd/core';
import type { HookedTransformer } from '@nnd/models';
import type { ActivationSource } from '@nnd/train';
import { resolve } from 'node:path';
import type { RunConfig } from './run-config.js';

/** The model as the activation store sees it, named by the run's `model_name`. */
export function activationModel(model: HookedTransformer, config: Pick<RunConfig, 'model_name'>): ActivationModel {
  return hookedTransformerActivations(model, { name: config.model_name });
}

/**
 * Checks that `act_size` is the hook's width, so that a wrong config fails
 * here with the number to use, not later as a shape mismatch in a graph.
 */
export function checkActivationSize(model: ActivationModel, config: Pick<RunConfig, 'act_size' | 'hook_point' | 'model_name'>): void {
  const width = model.activationSize(config.hook_point);
  if (width !== config.act_size) {
    throw new ConfigError(`Invalid config: 'act_size' is ${config.act_size}; allowed: ${width}, the width of ${config.hook_point} in ${config.model_name}. Set act_size: ${width} (and a dict_size to match, e.g. ${16 * width} for 16x).`);
  }
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
 * The batches a run trains on: the reference's ActivationsStore (the model
 * runs as training goes), or an activation cache written by `nnd cache`
 * when `activation_cache` names one.
 */
export async function openActivationSource(model: ActivationModel | undefined, config: RunConfig, log: (message: string) => void): Promise<ActivationSource> {
  if (config.activation_cache !== null) {
    const store = await ActivationsStore.fromCache(resolve(config.activation_cache), { batchSize: config.batch_size, seed: config.seed, log });
    if (store.hook !== config.hook_point || store.activationSize !== config.act_size) {
      throw new ConfigError(
        `Invalid config: 'activation_cache' is ${JSON.stringify(config.activation_cache)}, which holds ${store.hook} (width ${store.activationSize}), ` +
          `but the run asks for ${config.hook_point} (act_size ${config.act_size}); allowed: a cache of the run's hook_point, or no activation_cache.`,
      );
    }
    return store;
  }
  if (model === undefined) throw new ConfigError('Invalid config: without activation_cache the run needs its model to harvest activations.');
  return new ActivationsStore({
    ...(await harvestSettings(model, config, log)),
    hookPoint: config.hook_point,
    batchesInBuffer: config.num_batches_in_buffer,
    batchSize: config.batch_size,
    seed: config.seed,
  });
}
