import { ConfigError, describeValue, type DecompositionFamily, type FamilyMember } from '@nnd/core';
import { z } from 'zod';
import { encoderRunConfigShape } from './encoder-config.js';
import { SAE_ARCHITECTURES, type SaeArchitecture } from './sae-config.js';
import { loadSae, saveSae } from './sae-files.js';
import { createSae } from './sae-registry.js';
import type { SparseAutoencoder } from './sparse-autoencoder.js';

const saeTypeAllowed = `one of ${SAE_ARCHITECTURES.map((id) => `'${id}'`).join(', ')}, or a list of them (trained together on one activation stream)`;

/** Keys of a run config that every SAE type reads, beside its own (TYPE_KEYS). */
const SHARED_KEYS = ['hook_point', 'act_size', 'dict_size', 'seed', 'batch_size', 'lr', 'beta1', 'beta2', 'max_grad_norm', 'l1_coeff', 'n_batches_to_dead', 'input_unit_norm'] as const;
const TYPE_KEYS: Readonly<Record<SaeArchitecture, readonly string[]>> = {
  vanilla: [],
  topk: ['top_k', 'top_k_aux', 'aux_penalty'],
  batchtopk: ['top_k', 'top_k_aux', 'aux_penalty'],
  jumprelu: ['bandwidth'],
};

/** The SAE types a run config lists, in order. */
export function saeTypesOf(run: Readonly<Record<string, unknown>>): SaeArchitecture[] {
  const types = run.sae_type ?? 'topk';
  return (Array.isArray(types) ? types : [types]) as SaeArchitecture[];
}

/**
 * SAEs as `nnd train` sees them (`decomposition: sae`, the default): one SAE
 * per `sae_type` on the run's `hook_point`, all trained on the same batches;
 * `act_size` is the hook's width unless the config states it.
 */
export const saeFamily: DecompositionFamily = {
  name: 'sae',
  summary: 'sparse autoencoders (vanilla/L1, TopK, BatchTopK, JumpReLU) reconstructing one hook',
  directoryName: 'sae',
  configShape: {
    sae_type: z
      .union([z.enum(SAE_ARCHITECTURES), z.array(z.enum(SAE_ARCHITECTURES)).min(1)], { error: saeTypeAllowed })
      .default('topk')
      .describe(`the SAE type: ${saeTypeAllowed}`),
    act_size: z
      .number({ error: 'an integer >= 1 (the width of the hook)' })
      .int({ error: 'an integer >= 1 (the width of the hook)' })
      .min(1, { error: 'an integer >= 1 (the width of the hook)' })
      .optional()
      .describe('the width of the hook; left out, it is read from the model'),
    ...encoderRunConfigShape,
  },
  members(run, hookWidth): FamilyMember[] {
    const types = saeTypesOf(run);
    if (new Set(types).size !== types.length) {
      throw new ConfigError(`Invalid config: 'sae_type' is ${describeValue(run.sae_type)}; allowed: each type at most once (one SAE per type on a stream).`);
    }
    const hook = run.hook_point as string;
    const actSize = (run.act_size as number | undefined) ?? hookWidth?.(hook);
    if (actSize !== undefined && hookWidth !== undefined && actSize !== hookWidth(hook)) {
      const width = hookWidth(hook);
      throw new ConfigError(
        `Invalid config: 'act_size' is ${actSize}; allowed: ${width}, the width of ${hook} in ${String(run.model_name)}. Set act_size: ${width} (or leave it out), and a dict_size to match, e.g. ${16 * width} for 16x.`,
      );
    }
    return types.map((type) => {
      const keys = [...SHARED_KEYS, ...TYPE_KEYS[type]];
      const config: Record<string, unknown> = { architecture: type };
      for (const key of keys) if (run[key] !== undefined) config[key] = run[key];
      if (actSize !== undefined) config.act_size = actSize;
      return { label: type, runKeys: { sae_type: type }, config };
    });
  },
  create: (config) => createSae(config),
  save: (directory, decomposition, params, state, metadata) => {
    const sae = decomposition as SparseAutoencoder;
    return saveSae(directory, sae, params, state, { ...metadata, hook_name: sae.hook });
  },
  async load(directory) {
    const { sae, params, state, metadata } = await loadSae(directory);
    return { decomposition: sae, params, state, metadata };
  },
};
