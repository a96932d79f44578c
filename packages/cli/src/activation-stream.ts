import { ActivationsStore, hookedTransformerActivations, MultiHookActivationsStore, openDataset, readCacheManifest, type ActivationModel, type HarvestSettings } from '@nnd/activations';
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
 * `activation_cache` names one. A cache is read as the live store would
 * have served it (model batches in harvest order, `num_batches_in_buffer`
 * of them shuffled with the run's seed), so training from a cache harvested
 * with the run's settings equals training without it, as long as the run
 * reads no more than the cache holds.
 */
export async function openActivationSource(model: ActivationModel | undefined, config: RunConfig, streams: readonly ActivationPort[], log: (message: string) => void): Promise<ActivationSource> {
  if (config.activation_cache !== null) return openCachedSource(model, config, streams, log);
  if (model === undefined) throw new ConfigError('Invalid config: without activation_cache the run needs its model to harvest activations.');
  const settings = {
    ...(await harvestSettings(model, config, log)),
    batchesInBuffer: config.num_batches_in_buffer,
    maxBytes: config.store_memory_mib * 2 ** 20,
    batchSize: config.batch_size,
    seed: config.seed,
  };
  if (streams.length === 1) return new ActivationsStore({ ...settings, hookPoint: streams[0].hook });
  // The store prints its streams and its memory footprint (two buffers while the next one fills).
  return new MultiHookActivationsStore({ ...settings, hookPoints: streams.map(({ hook }) => hook) });
}

/** The run's streams from its activation cache, which must hold each of them at the width the run expects (it may hold more). */
async function openCachedSource(model: ActivationModel | undefined, config: RunConfig, streams: readonly ActivationPort[], log: (message: string) => void): Promise<ActivationSource> {
  const directory = resolve(config.activation_cache!);
  const manifest = await readCacheManifest(directory);
  const missing = streams.filter(({ hook, width }) => !manifest.hooks.some((cached) => cached.hook === hook && cached.activationSize === width));
  if (missing.length > 0) {
    const list = (ports: readonly { hook: string; width?: number; activationSize?: number }[]) =>
      ports.map(({ hook, width, activationSize }) => `${hook} (width ${width ?? activationSize})`).join(', ');
    throw new ConfigError(
      `Invalid config: 'activation_cache' is ${JSON.stringify(config.activation_cache)}, which holds ${list(manifest.hooks)}, ` +
        `but the run reads and writes ${list(streams)}; allowed: a cache holding ${missing.length === streams.length ? 'those hooks' : `also ${list(missing)}`} ` +
        "(nnd cache with this run's config harvests them all), or no activation_cache.",
    );
  }
  const sequenceLength = Math.min(config.seq_len, model?.contextLength ?? config.seq_len);
  if (manifest.model !== config.model_name || manifest.sequenceLength !== sequenceLength || manifest.modelBatchSize !== config.model_batch_size) {
    log(
      `Note: the activation cache was harvested from ${manifest.model} with seq_len ${manifest.sequenceLength} and model_batch_size ${manifest.modelBatchSize}; ` +
        `this run says ${config.model_name}, ${sequenceLength} and ${config.model_batch_size}, so its batches differ from a run without the cache.`,
    );
  }
  return MultiHookActivationsStore.fromCache(directory, {
    hookPoints: streams.map(({ hook }) => hook),
    batchSize: config.batch_size,
    seed: config.seed,
    batchesInBuffer: config.num_batches_in_buffer,
    maxBytes: config.store_memory_mib * 2 ** 20,
    log,
  });
}
