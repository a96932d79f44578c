import { ConfigError, type DecompositionFamily } from '@nnd/core';
import { encoderRunConfigShape } from '@nnd/sae';
import { z } from 'zod';
import { CLT_ENCODER_TYPES, CLT_VARIANTS, DEFAULT_HOOK_TEMPLATE_IN, DEFAULT_HOOK_TEMPLATE_OUT, hookForLayer, VARIANT_ENCODER_TYPES, type CltEncoderType, type CltVariant } from './clt-config.js';
import type { CrossLayerTranscoder } from './cross-layer-transcoder.js';
import { createClt } from './cross-layer-transcoder.js';
import { loadClt, saveClt } from './clt-files.js';

/** Keys of a run config that a CLT reads as they are. */
const KEYS = [
  'encoder_type',
  'variant',
  'layers',
  'dict_size',
  'seed',
  'l1_coeff',
  'n_batches_to_dead',
  'top_k',
  'top_k_aux',
  'aux_penalty',
  'bandwidth',
  'tanh_scale',
  'pre_act_loss_coeff',
  'hook_template_in',
  'hook_template_out',
] as const;

const layersAllowed = 'a list of block indices in increasing order, e.g. [0, 1, 2, 3]';

/**
 * Cross-layer transcoders as `nnd train` sees them (`decomposition: clt`):
 * one CLT over `layers`, layer i reading `hook_template_in` and writing
 * `hook_template_out` with `{layer}` filled in (the MLP input and output by
 * default), all layers' streams harvested in one model run; `input_size` and
 * `output_size` are the hooks' widths unless the config states them.
 */
export const cltFamily: DecompositionFamily = {
  name: 'clt',
  summary: "cross-layer transcoders over several layers' MLPs (the reference's four encoder types; Anthropic's JumpReLU variant)",
  directoryName: 'clt',
  configShape: {
    encoder_type: z
      .enum(CLT_ENCODER_TYPES, { error: `one of ${CLT_ENCODER_TYPES.map((type) => `'${type}'`).join(', ')}` })
      .default('topk')
      .describe('the encoder of every layer'),
    variant: z
      .enum(CLT_VARIANTS, { error: `one of ${CLT_VARIANTS.map((variant) => `'${variant}'`).join(', ')}` })
      .default('reference')
      .describe("'reference' (nn_decompositions' clt.py, the default) or 'anthropic' (JumpReLU with the tanh penalty on concatenated decoder norms, the pre-activation loss, summed MSE)"),
    layers: z
      .array(z.number({ error: layersAllowed }).int({ error: layersAllowed }).min(0, { error: layersAllowed }), { error: layersAllowed })
      .min(1, { error: layersAllowed })
      .default([0, 1, 2, 3])
      .describe(`the blocks whose MLPs it replaces: ${layersAllowed}`),
    tanh_scale: z.number({ error: 'a number > 0' }).positive({ error: 'a number > 0' }).default(4).describe("the anthropic variant's c in tanh(c * ||W_dec|| * a)"),
    pre_act_loss_coeff: z.number({ error: 'a number >= 0' }).min(0, { error: 'a number >= 0' }).default(3e-6).describe("the anthropic variant's pre-activation loss coefficient"),
    hook_template_in: z.string({ error: 'a hook name with {layer}' }).min(1).default(DEFAULT_HOOK_TEMPLATE_IN).describe('the hook each layer reads, {layer} filled in'),
    hook_template_out: z.string({ error: 'a hook name with {layer}' }).min(1).default(DEFAULT_HOOK_TEMPLATE_OUT).describe('the hook each layer writes, {layer} filled in'),
    input_size: z
      .number({ error: 'an integer >= 1' })
      .int({ error: 'an integer >= 1' })
      .min(1, { error: 'an integer >= 1' })
      .optional()
      .describe("the width of each layer's input; left out, read from the model"),
    output_size: z
      .number({ error: 'an integer >= 1' })
      .int({ error: 'an integer >= 1' })
      .min(1, { error: 'an integer >= 1' })
      .optional()
      .describe("the width of each layer's target; left out, read from the model"),
    ...encoderRunConfigShape,
  },
  members(run, hookWidth) {
    // Checked here too, so a run config fails when it is read rather than once the model is loaded.
    const variant = (run.variant ?? 'reference') as CltVariant;
    const encoderType = (run.encoder_type ?? 'topk') as CltEncoderType;
    if (!VARIANT_ENCODER_TYPES[variant].includes(encoderType)) {
      throw new ConfigError(
        `Invalid config: variant '${variant}' does not support encoder_type '${encoderType}'; it offers ${VARIANT_ENCODER_TYPES[variant].map((type) => `'${type}'`).join(', ')} (or use variant 'reference').`,
      );
    }
    const config: Record<string, unknown> = {};
    for (const key of KEYS) if (run[key] !== undefined) config[key] = run[key];
    const layers = (run.layers as number[] | undefined) ?? [0];
    const firstLayer = layers[0] ?? 0;
    config.input_size = run.input_size ?? hookWidth?.(hookForLayer(String(run.hook_template_in ?? DEFAULT_HOOK_TEMPLATE_IN), firstLayer));
    config.output_size = run.output_size ?? hookWidth?.(hookForLayer(String(run.hook_template_out ?? DEFAULT_HOOK_TEMPLATE_OUT), firstLayer));
    if (config.input_size === undefined) delete config.input_size;
    if (config.output_size === undefined) delete config.output_size;
    return [{ label: `${encoderType}${variant === 'anthropic' ? '_anthropic' : ''}_clt`, runKeys: {}, config, hookLabel: `layers_${layers.join('-')}` }];
  },
  create: (config) => createClt(config),
  save: (directory, decomposition, params, state, metadata) => saveClt(directory, decomposition as CrossLayerTranscoder, params, state, metadata),
  async load(directory) {
    const { clt, params, state, metadata } = await loadClt(directory);
    return { decomposition: clt, params, state, metadata };
  },
};
