import { ConfigError, describeValue, type DecompositionFamily, type FamilyMember } from '@nnd/core';
import { encoderRunConfigShape } from '@nnd/sae';
import { z } from 'zod';
import type { Transcoder } from './transcoder.js';
import { loadTranscoder, saveTranscoder } from './transcoder-files.js';
import { createTranscoder } from './transcoder-registry.js';

const ENCODER_TYPES = ['vanilla', 'topk', 'batchtopk', 'jumprelu'] as const;
type EncoderType = (typeof ENCODER_TYPES)[number];
const encoderTypeAllowed = `one of ${ENCODER_TYPES.map((id) => `'${id}'`).join(', ')}, or a list of them (trained together on the same batches)`;
const widthAllowed = (what: string) => `an integer >= 1 (${what}; left out, read from the model)`;

/** Keys of a run config that every transcoder type reads, beside its own (TYPE_KEYS). */
const SHARED_KEYS = [
  'hook_point',
  'hook_point_out',
  'dict_size',
  'seed',
  'batch_size',
  'lr',
  'beta1',
  'beta2',
  'max_grad_norm',
  'l1_coeff',
  'n_batches_to_dead',
  'input_unit_norm',
  'pre_enc_bias',
  'skip',
] as const;
const TYPE_KEYS: Readonly<Record<EncoderType, readonly string[]>> = {
  vanilla: [],
  topk: ['top_k', 'top_k_aux', 'aux_penalty'],
  batchtopk: ['top_k', 'top_k_aux', 'aux_penalty'],
  jumprelu: ['bandwidth'],
};

function encoderTypesOf(run: Readonly<Record<string, unknown>>): EncoderType[] {
  const types = run.encoder_type ?? 'topk';
  return (Array.isArray(types) ? types : [types]) as EncoderType[];
}

/**
 * Transcoders as `nnd train` sees them (`decomposition: transcoder`): one per
 * `encoder_type` (the reference's key), reading the MLP input
 * `blocks.{layer}.ln2.hook_normalized` and writing its output
 * `blocks.{layer}.hook_mlp_out` unless `site`/`site_out` or the hooks say
 * otherwise; `input_size` and `output_size` are the hooks' widths unless
 * the config states them.
 */
export const transcoderFamily: DecompositionFamily = {
  name: 'transcoder',
  summary: "transcoders and skip transcoders (vanilla/L1, TopK, BatchTopK, JumpReLU) from one hook to another, by default an MLP's input to its output",
  directoryName: 'transcoder',
  configShape: {
    encoder_type: z
      .union([z.enum(ENCODER_TYPES), z.array(z.enum(ENCODER_TYPES)).min(1)], { error: encoderTypeAllowed })
      .default('topk')
      .describe(`the encoder: ${encoderTypeAllowed}`),
    site: z.string({ error: 'a TransformerLens site name' }).default('ln2').describe('which hook of the block the transcoder reads (default the MLP input, ln2)'),
    site_out: z.string({ error: 'a TransformerLens site name' }).default('mlp_out').describe('which hook of the block it writes (default the MLP output, mlp_out)'),
    hook_point_out: z
      .string({ error: 'a non-empty string' })
      .min(1, { error: 'a non-empty string' })
      .optional()
      .describe('the hook written, e.g. blocks.8.hook_mlp_out; derived from site_out and layer unless given'),
    input_size: z
      .number({ error: widthAllowed("the read hook's width") })
      .int({ error: widthAllowed("the read hook's width") })
      .min(1, { error: widthAllowed("the read hook's width") })
      .optional()
      .describe('the width of the read hook; left out, read from the model'),
    output_size: z
      .number({ error: widthAllowed("the written hook's width") })
      .int({ error: widthAllowed("the written hook's width") })
      .min(1, { error: widthAllowed("the written hook's width") })
      .optional()
      .describe('the width of the written hook; left out, read from the model'),
    pre_enc_bias: z.boolean({ error: 'true or false' }).default(false).describe('subtract b_dec from the input before the encoder (only when the widths are equal, as the reference)'),
    skip: z.boolean({ error: 'true or false' }).default(false).describe('a skip transcoder: adds x @ W_skip^T, W_skip [output_size, input_size] starting at zero'),
    ...encoderRunConfigShape,
  },
  members(run, hookWidth): FamilyMember[] {
    const types = encoderTypesOf(run);
    if (new Set(types).size !== types.length) {
      throw new ConfigError(`Invalid config: 'encoder_type' is ${describeValue(run.encoder_type)}; allowed: each type at most once.`);
    }
    if (run.hook_point === run.hook_point_out) {
      throw new ConfigError(
        `Invalid config: hook_point and hook_point_out are both '${String(run.hook_point)}'; a transcoder reads one hook and writes another (for one hook, train an SAE: decomposition: sae).`,
      );
    }
    const sizes: Record<string, number | undefined> = {
      input_size: (run.input_size as number | undefined) ?? hookWidth?.(run.hook_point as string),
      output_size: (run.output_size as number | undefined) ?? hookWidth?.(run.hook_point_out as string),
    };
    if (hookWidth !== undefined) {
      for (const [key, hook] of [
        ['input_size', run.hook_point],
        ['output_size', run.hook_point_out],
      ] as const) {
        const width = hookWidth(hook as string);
        if (sizes[key] !== width) {
          throw new ConfigError(`Invalid config: '${key}' is ${sizes[key]}; allowed: ${width}, the width of ${String(hook)} in ${String(run.model_name)} (or leave it out).`);
        }
      }
    }
    return types.map((type) => {
      const config: Record<string, unknown> = { architecture: `${type}_transcoder` };
      for (const key of [...SHARED_KEYS, ...TYPE_KEYS[type]]) if (run[key] !== undefined) config[key] = run[key];
      for (const [key, size] of Object.entries(sizes)) if (size !== undefined) config[key] = size;
      return { label: `${type}${run.skip === true ? '_skip' : ''}_transcoder`, runKeys: { encoder_type: type }, config };
    });
  },
  create: (config) => createTranscoder(config),
  // The folder's cfg.json records the hooks from the transcoder's own config.
  save: (directory, decomposition, params, state, metadata) => saveTranscoder(directory, decomposition as Transcoder, params, state, metadata),
  async load(directory) {
    const { transcoder, params, state, metadata } = await loadTranscoder(directory);
    return { decomposition: transcoder, params, state, metadata };
  },
};
