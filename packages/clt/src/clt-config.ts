import { ConfigError, describeValue } from '@nnd/core';
import { formatConfigIssue } from '@nnd/sae';
import { z } from 'zod';

/** The reference's `encoder_type` values. */
export const CLT_ENCODER_TYPES = ['vanilla', 'topk', 'batchtopk', 'jumprelu'] as const;
export type CltEncoderType = (typeof CLT_ENCODER_TYPES)[number];

/** Architecture ids saved in files and used by registries: `<encoder_type>_clt`. */
export const CLT_ARCHITECTURES = ['vanilla_clt', 'topk_clt', 'batchtopk_clt', 'jumprelu_clt'] as const;
export type CltArchitecture = (typeof CLT_ARCHITECTURES)[number];

/**
 * `reference`: bartbussmann/nn_decompositions `clt.py` (the default; see
 * DECOMPOSITIONS.md 3a). `anthropic`: Ameisen et al. 2025 (JumpReLU only;
 * tanh penalty on the concatenated decoder norms, pre-activation loss, summed
 * MSE, no decoder-norm constraint).
 */
export const CLT_VARIANTS = ['reference', 'anthropic'] as const;
export type CltVariant = (typeof CLT_VARIANTS)[number];

/** Which encoder types each variant offers. */
export const VARIANT_ENCODER_TYPES: Record<CltVariant, readonly CltEncoderType[]> = {
  reference: CLT_ENCODER_TYPES,
  anthropic: ['jumprelu'],
};

/** The reference's MLP input (post-affine ln2 output) and MLP output. */
export const DEFAULT_HOOK_TEMPLATE_IN = 'blocks.{layer}.ln2.hook_normalized';
export const DEFAULT_HOOK_TEMPLATE_OUT = 'blocks.{layer}.hook_mlp_out';

const LAYER_PLACEHOLDER = '{layer}';

const ALLOWED: Record<string, string> = {
  architecture: `one of ${CLT_ARCHITECTURES.map((id) => `'${id}'`).join(', ')}`,
  encoder_type: `one of ${CLT_ENCODER_TYPES.map((id) => `'${id}'`).join(', ')}`,
  variant: `one of ${CLT_VARIANTS.map((id) => `'${id}'`).join(', ')}`,
  layers: 'a non-empty list of distinct integers >= 0 in increasing order (the model layers the CLT reads and writes)',
  n_model_layers: "an integer >= 1 (the model's number of layers; every entry of layers must be below it)",
  dict_size: 'an integer >= 1 (features per layer)',
  input_size: "an integer >= 1 (the width of each layer's encoder input)",
  output_size: "an integer >= 1 (the width of each layer's target)",
  seed: 'a safe integer',
  l1_coeff: 'a number >= 0',
  n_batches_to_dead: 'an integer >= 0',
  top_k: 'an integer >= 1 and <= dict_size',
  top_k_aux: 'an integer >= 1',
  aux_penalty: 'a number >= 0',
  bandwidth: 'a number > 0',
  tanh_scale: 'a number > 0 (the c of tanh(c * ||W_dec|| * a))',
  pre_act_loss_coeff: 'a number >= 0',
  sparse_decoder: 'true or false',
  hook_template_in: `a hook name containing '${LAYER_PLACEHOLDER}', e.g. '${DEFAULT_HOOK_TEMPLATE_IN}'`,
  hook_template_out: `a hook name containing '${LAYER_PLACEHOLDER}', e.g. '${DEFAULT_HOOK_TEMPLATE_OUT}'`,
};

// Defaults: the reference's CLTConfig (EncoderConfig's defaults: seed 49,
// n_batches_to_dead 50, top_k 32, top_k_aux 512, aux_penalty 1/32,
// bandwidth 0.001, l1_coeff 0). tanh_scale and pre_act_loss_coeff: SAELens's
// tanh mode (c = 4; 3e-6 is the coefficient its docstring says matches Anthropic).
export const cltConfigSchema = z
  .strictObject({
    encoder_type: z.enum(CLT_ENCODER_TYPES),
    variant: z.enum(CLT_VARIANTS).default('reference'),
    layers: z.array(z.number()).min(1),
    n_model_layers: z.number().int().min(1).optional(),
    dict_size: z.number().int().min(1),
    input_size: z.number().int().min(1),
    output_size: z.number().int().min(1),
    seed: z.number().int().default(49),
    l1_coeff: z.number().min(0).default(0),
    n_batches_to_dead: z.number().int().min(0).default(50),
    top_k: z.number().int().min(1).default(32),
    top_k_aux: z.number().int().min(1).default(512),
    aux_penalty: z
      .number()
      .min(0)
      .default(1 / 32),
    bandwidth: z.number().positive().default(0.001),
    tanh_scale: z.number().positive().default(4),
    pre_act_loss_coeff: z.number().min(0).default(3e-6),
    /** TopK/BatchTopK: decode from the kept features only (gathered decoder rows), as @nnd/sae's fast path. */
    sparse_decoder: z.boolean().default(true),
    hook_template_in: z.string().min(1).default(DEFAULT_HOOK_TEMPLATE_IN),
    hook_template_out: z.string().min(1).default(DEFAULT_HOOK_TEMPLATE_OUT),
  })
  .superRefine((config, context) => {
    const issue = (path: string, message: string) => context.addIssue({ code: 'custom', path: [path], message });
    const { layers } = config;
    const invalid = layers.filter((layer) => !Number.isInteger(layer) || layer < 0);
    if (invalid.length > 0) issue('layers', `layers = ${JSON.stringify(layers)} has ${JSON.stringify(invalid)}; layers are model layer indices, integers >= 0`);
    for (let i = 1; i < layers.length; i++) {
      if (layers[i] === layers[i - 1]) issue('layers', `layers = ${JSON.stringify(layers)} lists layer ${layers[i]} twice; give each layer once`);
      else if (layers[i] < layers[i - 1])
        issue(
          'layers',
          `layers = ${JSON.stringify(layers)} is not in increasing order; sort it (a CLT's features write to their own layer and the later ones, so the order matters): ${JSON.stringify([...new Set(layers)].sort((a, b) => a - b))}`,
        );
    }
    if (config.n_model_layers !== undefined) {
      const outside = layers.filter((layer) => layer >= config.n_model_layers!);
      if (outside.length > 0) issue('layers', `layers ${JSON.stringify(outside)} are out of range: the model has n_model_layers = ${config.n_model_layers} (layers 0..${config.n_model_layers - 1})`);
    }
    if (!VARIANT_ENCODER_TYPES[config.variant].includes(config.encoder_type)) {
      issue(
        'encoder_type',
        `variant '${config.variant}' does not support encoder_type '${config.encoder_type}'; it offers ${VARIANT_ENCODER_TYPES[config.variant].map((type) => `'${type}'`).join(', ')} (or use variant 'reference')`,
      );
    }
    if ((config.encoder_type === 'topk' || config.encoder_type === 'batchtopk') && config.top_k > config.dict_size) {
      issue('top_k', `top_k = ${config.top_k} exceeds dict_size = ${config.dict_size}; top_k must be <= dict_size (lower top_k or raise dict_size)`);
    }
    for (const key of ['hook_template_in', 'hook_template_out'] as const) {
      if (!config[key].includes(LAYER_PLACEHOLDER))
        issue(
          key,
          `${key} = ${JSON.stringify(config[key])} has no '${LAYER_PLACEHOLDER}'; each layer needs its own hook, e.g. '${key === 'hook_template_in' ? DEFAULT_HOOK_TEMPLATE_IN : DEFAULT_HOOK_TEMPLATE_OUT}'`,
        );
    }
    if (config.hook_template_in === config.hook_template_out && config.input_size !== config.output_size) {
      issue(
        'hook_template_out',
        `hook_template_in and hook_template_out are both ${JSON.stringify(config.hook_template_in)}, so each layer reads and writes one stream, but input_size (${config.input_size}) != output_size (${config.output_size})`,
      );
    }
  });

export type CltConfig = z.output<typeof cltConfigSchema> & { readonly architecture: CltArchitecture };
export type CltConfigInput = z.input<typeof cltConfigSchema> & { architecture?: CltArchitecture };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `topk_clt` for encoder_type `topk`. */
export function architectureFor(encoderType: CltEncoderType): CltArchitecture {
  return `${encoderType}_clt`;
}

/**
 * The encoder type a raw config names, by the reference's `encoder_type` or
 * by `architecture` (`topk_clt`); both must agree when both are given.
 */
export function encoderTypeOf(config: unknown): CltEncoderType {
  if (!isRecord(config)) throw new ConfigError(`CLT config must be an object, got ${describeValue(config)}.`);
  const { architecture, encoder_type: encoderType } = config;
  if (architecture !== undefined && !CLT_ARCHITECTURES.includes(architecture as CltArchitecture)) {
    throw new ConfigError(`CLT config: architecture = ${describeValue(architecture)} is not a cross-layer transcoder; allowed: ${ALLOWED.architecture}.`);
  }
  if (encoderType !== undefined && !CLT_ENCODER_TYPES.includes(encoderType as CltEncoderType)) {
    throw new ConfigError(`CLT config: encoder_type = ${describeValue(encoderType)} is not supported; allowed: ${ALLOWED.encoder_type}.`);
  }
  const fromArchitecture = typeof architecture === 'string' ? architecture.slice(0, -'_clt'.length) : undefined;
  if (fromArchitecture !== undefined && encoderType !== undefined && fromArchitecture !== encoderType) {
    throw new ConfigError(`CLT config: architecture = ${describeValue(architecture)} and encoder_type = ${describeValue(encoderType)} disagree; give one of them.`);
  }
  const named = encoderType ?? fromArchitecture;
  if (named === undefined) throw new ConfigError(`CLT config: encoder_type (or architecture) is required; allowed: ${ALLOWED.encoder_type}.`);
  return named as CltEncoderType;
}

/**
 * Validates a raw CLT config and fills in the defaults; every problem is
 * named in one ConfigError with the key, the value and what is allowed.
 */
export function parseCltConfig(config: unknown): CltConfig {
  const encoderType = encoderTypeOf(config);
  const { architecture: _architecture, ...rest } = config as Record<string, unknown>;
  const normalized = { ...rest, encoder_type: encoderType };
  const result = cltConfigSchema.safeParse(normalized);
  if (result.success) return { ...result.data, architecture: architectureFor(result.data.encoder_type) };
  const allowedKeys = ['architecture', ...Object.keys(cltConfigSchema.shape)];
  const problems = result.error.issues.map((issue) => formatConfigIssue(issue, normalized, allowedKeys, ALLOWED));
  throw new ConfigError(`Invalid ${architectureFor(encoderType)} config: ${problems.join('; ')}.`);
}

/** The hook of one model layer: the template with `{layer}` replaced. */
export function hookForLayer(template: string, layer: number): string {
  return template.replaceAll(LAYER_PLACEHOLDER, String(layer));
}
