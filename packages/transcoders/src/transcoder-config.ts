import { ConfigError, describeValue } from '@nnd/core';
import { checkTopKWithinDictSize, ENCODER_ALLOWED, encoderTrainingShape, formatConfigIssues, jumpReluEncoderShape, topKEncoderShape } from '@nnd/sae';
import { z } from 'zod';

/** Architecture ids, as files and run tables name them. */
export const TRANSCODER_ARCHITECTURES = ['vanilla_transcoder', 'topk_transcoder', 'batchtopk_transcoder', 'jumprelu_transcoder'] as const;
export type TranscoderArchitecture = (typeof TRANSCODER_ARCHITECTURES)[number];

/** The reference's `encoder_type` values, which name the same four. */
const ENCODER_TYPES: Readonly<Record<string, TranscoderArchitecture>> = {
  vanilla: 'vanilla_transcoder',
  topk: 'topk_transcoder',
  batchtopk: 'batchtopk_transcoder',
  jumprelu: 'jumprelu_transcoder',
};

/** The streams a transcoder reads and writes when the config names no hooks (library use without a model). */
export const DEFAULT_INPUT_HOOK = 'input';
export const DEFAULT_OUTPUT_HOOK = 'target';

const ALLOWED: Record<string, string> = {
  architecture: `one of ${TRANSCODER_ARCHITECTURES.map((id) => `'${id}'`).join(', ')}`,
  input_size: 'an integer >= 1 (the width of the stream read, e.g. the MLP input)',
  output_size: 'an integer >= 1 (the width of the stream written, e.g. the MLP output)',
  ...ENCODER_ALLOWED,
  pre_enc_bias: 'true or false (used only when input_size == output_size)',
  skip: 'true or false (adds a linear skip connection W_skip [output_size, input_size])',
  hook_point: "a non-empty string (the hook read, e.g. 'blocks.8.ln2.hook_normalized')",
  hook_point_out: "a non-empty string (the hook written, e.g. 'blocks.8.hook_mlp_out')",
};

// The reference's EncoderConfig defaults (DECOMPOSITIONS.md §0), except
// n_batches_to_dead and max_grad_norm, which follow @nnd/sae's (5 and 1e5)
// so that an SAE and a transcoder trained side by side share them.
// input_size and output_size have no default: they must be stated.
const baseShape = {
  input_size: z.number().int().min(1),
  output_size: z.number().int().min(1),
  dict_size: z.number().int().min(1).default(12288),
  ...encoderTrainingShape,
  /** Subtract b_dec from the input before the encoder; only possible (and only done) when the widths are equal. */
  pre_enc_bias: z.boolean().default(false),
  /** A linear skip connection: output += x @ W_skip^T, W_skip [output_size, input_size] starting at zero. */
  skip: z.boolean().default(false),
  /** The stream it reads; left out, 'input'. */
  hook_point: z.string().min(1).optional(),
  /** The stream it writes; left out, 'target'. */
  hook_point_out: z.string().min(1).optional(),
};

const topKShape = topKEncoderShape;

interface CrossFieldInput {
  input_size: number;
  output_size: number;
  dict_size: number;
  input_unit_norm: boolean;
  top_k?: number;
  hook_point?: string;
  hook_point_out?: string;
}

function checkCrossFields(config: CrossFieldInput, context: z.RefinementCtx): void {
  checkTopKWithinDictSize(config, context);
  if (config.input_unit_norm && Math.min(config.input_size, config.output_size) < 2) {
    context.addIssue({
      code: 'custom',
      path: ['input_unit_norm'],
      message: `input_unit_norm = true needs input_size and output_size >= 2 (the standard deviation uses Bessel's correction, n - 1), but they are ${config.input_size} and ${config.output_size}`,
    });
  }
  const input = config.hook_point ?? DEFAULT_INPUT_HOOK;
  const output = config.hook_point_out ?? DEFAULT_OUTPUT_HOOK;
  if (input === output) {
    context.addIssue({
      code: 'custom',
      path: ['hook_point_out'],
      message: `hook_point and hook_point_out are both '${input}'; a transcoder reads one stream and writes another (for one stream, use an SAE from @nnd/sae)`,
    });
  }
}

export const vanillaTranscoderConfigSchema = z.strictObject({ architecture: z.literal('vanilla_transcoder').default('vanilla_transcoder'), ...baseShape }).superRefine(checkCrossFields);

export const topKTranscoderConfigSchema = z.strictObject({ architecture: z.literal('topk_transcoder').default('topk_transcoder'), ...baseShape, ...topKShape }).superRefine(checkCrossFields);

export const batchTopKTranscoderConfigSchema = z
  .strictObject({ architecture: z.literal('batchtopk_transcoder').default('batchtopk_transcoder'), ...baseShape, ...topKShape })
  .superRefine(checkCrossFields);

export const jumpReluTranscoderConfigSchema = z
  .strictObject({
    architecture: z.literal('jumprelu_transcoder').default('jumprelu_transcoder'),
    ...baseShape,
    ...jumpReluEncoderShape,
  })
  .superRefine(checkCrossFields);

export type VanillaTranscoderConfig = z.output<typeof vanillaTranscoderConfigSchema>;
export type TopKTranscoderConfig = z.output<typeof topKTranscoderConfigSchema>;
export type BatchTopKTranscoderConfig = z.output<typeof batchTopKTranscoderConfigSchema>;
export type JumpReluTranscoderConfig = z.output<typeof jumpReluTranscoderConfigSchema>;
export type TranscoderConfig = VanillaTranscoderConfig | TopKTranscoderConfig | BatchTopKTranscoderConfig | JumpReluTranscoderConfig;

export type VanillaTranscoderConfigInput = z.input<typeof vanillaTranscoderConfigSchema>;
export type TopKTranscoderConfigInput = z.input<typeof topKTranscoderConfigSchema>;
export type BatchTopKTranscoderConfigInput = z.input<typeof batchTopKTranscoderConfigSchema>;
export type JumpReluTranscoderConfigInput = z.input<typeof jumpReluTranscoderConfigSchema>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The architecture a raw config names: `architecture`, or the reference's
 * `encoder_type` ('topk' or 'topk_transcoder' alike); both must agree when
 * both are given.
 */
export function transcoderArchitectureOf(config: unknown): TranscoderArchitecture {
  if (!isRecord(config)) throw new ConfigError(`Transcoder config must be an object, got ${describeValue(config)}.`);
  const { architecture, encoder_type: encoderType } = config;
  const fromEncoderType = typeof encoderType === 'string' ? (ENCODER_TYPES[encoderType] ?? encoderType) : encoderType;
  if (architecture !== undefined && encoderType !== undefined && architecture !== fromEncoderType) {
    throw new ConfigError(`Transcoder config: architecture = ${describeValue(architecture)} and encoder_type = ${describeValue(encoderType)} disagree; give one of them, ${ALLOWED.architecture}.`);
  }
  const named = architecture ?? fromEncoderType;
  if (named === undefined)
    throw new ConfigError(`Transcoder config: architecture (or encoder_type) is required; allowed: ${ALLOWED.architecture} (or encoder_type 'vanilla', 'topk', 'batchtopk', 'jumprelu').`);
  if (!TRANSCODER_ARCHITECTURES.includes(named as TranscoderArchitecture)) {
    throw new ConfigError(`Transcoder config: architecture = ${describeValue(named)} is not supported; allowed: ${ALLOWED.architecture}.`);
  }
  return named as TranscoderArchitecture;
}

/** Parses a raw config with a schema; every problem is named in one ConfigError, as @nnd/sae's configs. */
export function parseTranscoderConfig<Shape extends z.core.$ZodLooseShape, T>(schema: z.ZodObject<Shape> & z.ZodType<T>, architecture: TranscoderArchitecture, config: unknown): T {
  if (!isRecord(config)) throw new ConfigError(`${architecture} config must be an object, got ${describeValue(config)}.`);
  // `encoder_type` (the reference's key) becomes `architecture` so that the strict schema sees one name.
  const { encoder_type: encoderType, ...rest } = config;
  const normalized = encoderType === undefined ? rest : { ...rest, architecture: transcoderArchitectureOf(config) };
  const result = schema.safeParse(normalized);
  if (result.success) return result.data;
  const problems = formatConfigIssues(result.error.issues, normalized, Object.keys(schema.shape), ALLOWED);
  throw new ConfigError(`Invalid ${architecture} config: ${problems.join('; ')}.`);
}
