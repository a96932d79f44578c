import { ConfigError, describeValue } from '@nnd/core';
import { z } from 'zod';
import { checkTopKWithinDictSize, ENCODER_ALLOWED, encoderTrainingShape, jumpReluEncoderShape, topKEncoderShape } from './encoder-config.js';

/** Architecture ids, as the reference's `sae_type` spells them. */
export const SAE_ARCHITECTURES = ['vanilla', 'topk', 'batchtopk', 'jumprelu'] as const;
export type SaeArchitecture = (typeof SAE_ARCHITECTURES)[number];

/**
 * What each key accepts, in words. Error messages quote it so that a user
 * sees the allowed values next to the rejected one.
 */
const ALLOWED: Record<string, string> = {
  architecture: `one of ${SAE_ARCHITECTURES.map((id) => `'${id}'`).join(', ')}`,
  act_size: 'an integer >= 1 (the width of the input activations)',
  ...ENCODER_ALLOWED,
  encoder_bias: 'true or false (add b_enc to the pre-activations, as SAELens TopK does; false is the reference)',
  hook_point: "a non-empty string (the hook the SAE reads and reconstructs, e.g. 'blocks.8.hook_resid_pre')",
};

// The reference's defaults (bartbussmann/BatchTopK config.py), except
// input_unit_norm: the reference turns it on, this project's issue text
// chose off. act_size and dict_size have no default: they must be stated.
const baseShape = {
  act_size: z.number().int().min(1),
  dict_size: z.number().int().min(1),
  ...encoderTrainingShape,
  /** The stream it reads and reconstructs (a model's hook); left out, the SAE's stream is 'activations'. */
  hook_point: z.string().min(1).optional(),
};

const topKShape = {
  ...topKEncoderShape,
  /**
   * Add b_enc to the pre-activations: pre = (x - b_dec) W_enc + b_enc, as
   * SAELens's TopK. Off by default, as the reference (no encoder bias).
   */
  encoder_bias: z.boolean().default(false),
};

interface CrossFieldInput {
  act_size: number;
  dict_size: number;
  input_unit_norm: boolean;
  top_k?: number;
}

function checkCrossFields(config: CrossFieldInput, context: z.RefinementCtx): void {
  checkTopKWithinDictSize(config, context);
  if (config.input_unit_norm && config.act_size < 2) {
    context.addIssue({
      code: 'custom',
      path: ['input_unit_norm'],
      message: `input_unit_norm = true needs act_size >= 2 (the standard deviation uses Bessel's correction, n - 1), but act_size = ${config.act_size}`,
    });
  }
}

export const vanillaConfigSchema = z.strictObject({ architecture: z.literal('vanilla').default('vanilla'), ...baseShape }).superRefine(checkCrossFields);

export const topKConfigSchema = z.strictObject({ architecture: z.literal('topk').default('topk'), ...baseShape, ...topKShape }).superRefine(checkCrossFields);

export const batchTopKConfigSchema = z.strictObject({ architecture: z.literal('batchtopk').default('batchtopk'), ...baseShape, ...topKShape }).superRefine(checkCrossFields);

export const jumpReluConfigSchema = z.strictObject({ architecture: z.literal('jumprelu').default('jumprelu'), ...baseShape, ...jumpReluEncoderShape }).superRefine(checkCrossFields);

export type VanillaSaeConfig = z.output<typeof vanillaConfigSchema>;
export type TopKSaeConfig = z.output<typeof topKConfigSchema>;
export type BatchTopKSaeConfig = z.output<typeof batchTopKConfigSchema>;
export type JumpReluSaeConfig = z.output<typeof jumpReluConfigSchema>;
export type SaeConfig = VanillaSaeConfig | TopKSaeConfig | BatchTopKSaeConfig | JumpReluSaeConfig;

/** What a user may pass: defaults filled in by parsing. */
export type VanillaSaeConfigInput = z.input<typeof vanillaConfigSchema>;
export type TopKSaeConfigInput = z.input<typeof topKConfigSchema>;
export type BatchTopKSaeConfigInput = z.input<typeof batchTopKConfigSchema>;
export type JumpReluSaeConfigInput = z.input<typeof jumpReluConfigSchema>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The architecture a raw config names. The reference calls the key
 * `sae_type`; files and this package call it `architecture`. Either is
 * accepted at the boundary; both must agree when both are given.
 */
export function architectureOf(config: unknown): SaeArchitecture {
  if (!isRecord(config)) throw new ConfigError(`SAE config must be an object, got ${describeValue(config)}.`);
  const { architecture, sae_type: saeType } = config;
  if (architecture !== undefined && saeType !== undefined && architecture !== saeType) {
    throw new ConfigError(`SAE config: architecture = ${describeValue(architecture)} and sae_type = ${describeValue(saeType)} disagree; give one of them, ${ALLOWED.architecture}.`);
  }
  const named = architecture ?? saeType;
  if (named === undefined) throw new ConfigError(`SAE config: architecture (or sae_type) is required; allowed: ${ALLOWED.architecture}.`);
  if (!SAE_ARCHITECTURES.includes(named as SaeArchitecture)) {
    throw new ConfigError(`SAE config: architecture = ${describeValue(named)} is not supported; allowed: ${ALLOWED.architecture}.`);
  }
  return named as SaeArchitecture;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) value = isRecord(value) ? value[key as string] : undefined;
  return value;
}

/**
 * One zod issue in words: the key, the rejected value and what is allowed
 * (from `allowed`, keyed by key), or the unknown keys and the allowed ones.
 */
export function formatConfigIssue(issue: z.core.$ZodIssue, input: unknown, allowedKeys: readonly string[], allowed: Readonly<Record<string, string>> = ALLOWED): string {
  if (issue.code === 'unrecognized_keys') {
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `'${key}'`).join(', ')}; allowed keys: ${allowedKeys.join(', ')}`;
  }
  if (issue.code === 'custom') return issue.message;
  const key = issue.path.map(String).join('.');
  const value = valueAt(input, issue.path);
  const allowedHere = allowed[key] ?? 'see the schema';
  if (value === undefined) return `${key} is required; allowed: ${allowedHere}`;
  return `${key} = ${describeValue(value)} is invalid (${issue.message}); allowed: ${allowedHere}`;
}

/**
 * zod's issues as one phrase per problem, naming the key, the rejected value
 * and what `allowedValues` says the key accepts; for other packages' config
 * schemas (transcoders) to give the same messages as the SAEs'.
 */
export function formatConfigIssues(issues: readonly z.core.$ZodIssue[], input: unknown, allowedKeys: readonly string[], allowedValues: Readonly<Record<string, string>>): string[] {
  return issues.map((issue) => formatConfigIssue(issue, input, allowedKeys, allowedValues));
}

/**
 * Parses a raw config with a schema, turning zod's issues into one
 * ConfigError that names every offending key, its value and what is allowed.
 */
export function parseWithSchema<Shape extends z.core.$ZodLooseShape, T>(schema: z.ZodObject<Shape> & z.ZodType<T>, architecture: SaeArchitecture, config: unknown): T {
  if (!isRecord(config)) throw new ConfigError(`${architecture} SAE config must be an object, got ${describeValue(config)}.`);
  // `sae_type` (the reference's key) becomes `architecture` so that the strict schema sees one name.
  const { sae_type: saeType, ...rest } = config;
  const normalized = saeType === undefined ? rest : { architecture: architectureOf(config), ...rest };
  const result = schema.safeParse(normalized);
  if (result.success) return result.data;
  const allowedKeys = Object.keys(schema.shape);
  const problems = formatConfigIssues(result.error.issues, normalized, allowedKeys, ALLOWED);
  throw new ConfigError(`Invalid ${architecture} SAE config: ${problems.join('; ')}.`);
}
