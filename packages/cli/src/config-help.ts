import { stringify } from 'yaml';
import { z } from 'zod';
import { DECOMPOSITION_FAMILIES } from './decomposition-families.js';
import { defaultRunConfig, parseRunConfig, runConfigSchema, runConfigSchemaFor } from './run-config.js';

type RunConfigKey = keyof typeof runConfigSchema.shape;

/**
 * One line per config key. Typed by the schema's keys, so a key added to
 * the schema without a line here does not compile; types and defaults come
 * from the schema itself.
 */
const DESCRIPTIONS: Readonly<Record<RunConfigKey, string>> = {
  seed: 'seeds the SAE initialisation and the shuffle of the activation buffer',
  batch_size: 'activations per training step',
  lr: 'Adam learning rate',
  num_tokens: 'tokens to train on (steps = num_tokens / batch_size)',
  beta1: "Adam's first-moment decay",
  beta2: "Adam's second-moment decay",
  max_grad_norm: 'gradients are clipped to this global norm',
  lr_schedule: 'after the warm-up the learning rate stays (constant) or decays linearly or along a half cosine to lr_final_frac of lr',
  lr_warmup_frac: 'fraction of the steps over which the learning rate rises linearly from 0 to lr',
  lr_final_frac: 'fraction of lr that a linear or cosine decay ends at',
  seq_len: 'tokens per sequence fed to the model',
  dtype: 'the dtype the SAE trains in',
  model_name: "a hub id (gpt2, EleutherAI/pythia-70m), a local directory, tiny-lm (ships with nnd) or TransformerLens' gpt2-small",
  site: 'which hook of the block the SAE reads (TransformerLens names)',
  layer: 'which block the SAE reads',
  hook_point: 'the hook, e.g. blocks.8.hook_resid_pre; derived from site and layer unless given, and sets them when given',
  device: 'where the model and the SAE run',
  backend: 'onnx (onnxruntime), or tfjs when @nnd/backend-tfjs is installed',
  model_batch_size: 'sequences per model forward pass when harvesting activations',
  num_batches_in_buffer: 'the shuffle buffer holds this many model batches of activations (fewer when store_memory_mib is too small for them)',
  store_memory_mib: 'the most memory (MiB) the activation store holds: two shuffle buffers, the model batches in flight, the batch being served; it prints its footprint',
  dataset_path: 'a bundled corpus (sotu, moby-dick), a local file or directory, or a Hugging Face dataset id',
  wandb_project: 'W&B project to log to; setting it turns W&B on (left out: sparse_autoencoders, once W&B is on)',
  wandb_entity: 'W&B entity (user or team); your default when left out',
  wandb: 'upload to W&B; left out, on when wandb_project or WANDB_API_KEY is set (WANDB_MODE=disabled turns it off)',
  perf_log_freq: 'log the performance metrics (CE degradation, recovery) every this many steps',
  checkpoint_freq: 'write a checkpoint every this many steps',
  name: 'the run name; derived from the other keys as the reference does unless given',
  run_dir: 'run directories go to {run_dir}/{name}/',
  log_freq: 'metrics reach the logger every this many steps',
  eval_tokens: "tokens the final evaluation reads (reconstruction, sparsity, densities, the model's loss with the SAE spliced in)",
  activation_cache: 'an activation cache written by nnd cache: training reads it instead of running the model',
  cache_dtype: 'the dtype nnd cache stores activations in',
  document_token_limit: "tokens kept per document, BOS included: context truncates at the model's context (the reference), none keeps whole documents",
  keep_remainder: 'carry tokens past a full model batch into the next one (the reference drops them)',
  exclude_special_tokens: 'drop BOS/EOS positions, whose norms are outliers (the reference keeps them)',
  repeat_dataset: 'start the dataset again when it runs out',
  spliced_inputs:
    "where a multi-layer decomposition's inputs come from when spliced in for evaluation: replacement (the patched pass, errors compound) or clean_inputs (the clean run, the reference's CLT evaluation)",
  dashboard_features: 'after training, write a feature dashboard (dashboard/index.html, linked from the report) of the first this many features (components for spd); 0 for none',
  decomposition: `the family of decompositions to train: ${DECOMPOSITION_FAMILIES.map(({ name }) => name).join(', ')} (each adds its own keys, below)`,
};

type JsonSchema = {
  description?: string;
  type?: string;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  minimum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
};

/** A JSON schema of the config's value types, in words: `integer >= 1`, `cpu | webgpu | cuda`, `list of (...)`. */
function typeInWords(schema: JsonSchema): string {
  if (schema.anyOf !== undefined) return schema.anyOf.map(typeInWords).join(' or ');
  if (schema.enum !== undefined) return schema.enum.map(String).join(' | ');
  if (schema.type === 'array') return `list of (${typeInWords(schema.items ?? {})})`;
  if (schema.type === 'integer' || schema.type === 'number') {
    const lower = schema.minimum !== undefined ? `[${schema.minimum}` : schema.exclusiveMinimum !== undefined ? `(${schema.exclusiveMinimum}` : undefined;
    if (lower !== undefined && schema.exclusiveMaximum !== undefined) return `${schema.type} in ${lower}, ${schema.exclusiveMaximum})`;
    if (schema.minimum !== undefined) return `${schema.type} >= ${schema.minimum}`;
    if (schema.exclusiveMinimum !== undefined) return `${schema.type} > ${schema.exclusiveMinimum}`;
  }
  return schema.type ?? 'any';
}

/** Each key's type in words (and its .describe() line), from a zod schema. */
function keyTypes(schema: z.ZodObject): Record<string, JsonSchema & { words: string }> {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as { properties: Record<string, JsonSchema> };
  return Object.fromEntries(Object.entries(json.properties).map(([key, property]) => [key, { ...property, words: typeInWords(property) }]));
}

/** Each key's type in words, from the zod schemas: the shared keys and every family's own. */
export function configKeyTypes(): Record<string, string> {
  // Later schemas win: the shared keys over a family's own default for one (a transcoder's site), and the first family
  // that has a key (the first line the help prints for it) over later families with the same key.
  const schemas = [...DECOMPOSITION_FAMILIES.map(({ name }) => runConfigSchemaFor(name)).reverse(), runConfigSchema];
  return Object.fromEntries(schemas.flatMap((schema) => Object.entries(keyTypes(schema)).map(([key, { words }]) => [key, words])));
}

/**
 * The "Config keys" part of a command's help: every key with its default,
 * as YAML a config file can start from, its type and what it does as a
 * comment beside it; the shared keys first, then each family's own.
 */
export function configKeysHelp(): string {
  const describe = (keys: readonly string[], defaults: Record<string, unknown>, types: Record<string, JsonSchema & { words: string }>, descriptions: Readonly<Record<string, string>>) =>
    keys.map((key) => {
      // Keys without a default are commented out: an empty YAML value would be null, which they do not accept.
      const value = defaults[key] === undefined ? `# ${key}:` : `${key}: ${stringify(defaults[key], { lineWidth: 0, collectionStyle: 'flow' }).trimEnd()}`;
      return { value, comment: `${types[key].words}: ${descriptions[key] ?? types[key].description ?? ''}` };
    });
  const shared = describe(Object.keys(runConfigSchema.shape), defaultRunConfig() as Record<string, unknown>, keyTypes(runConfigSchema), DESCRIPTIONS);
  const families = DECOMPOSITION_FAMILIES.map((family) => ({
    family,
    lines: describe(Object.keys(family.configShape), parseRunConfig({ decomposition: family.name }) as Record<string, unknown>, keyTypes(runConfigSchemaFor(family.name)), {}),
  }));
  // Long values (the derived name) would push every comment far right; they overflow instead.
  const width = Math.min(40, Math.max(...[...shared, ...families.flatMap(({ lines }) => lines)].map(({ value }) => value.length)));
  const format = ({ value, comment }: { value: string; comment: string }) => `  ${value.padEnd(width)}  # ${comment}`;
  return [
    "Config keys (JSON or YAML, --set key=value), with their defaults (the reference's, bartbussmann/BatchTopK config.py),",
    'their types and what they do; hook_point is derived from site and layer and name from the other keys, unless given:',
    ...shared.map(format),
    ...families.flatMap(({ family, lines }) => ['', `With decomposition: ${family.name} (${family.summary}), also:`, ...lines.map(format)]),
  ].join('\n');
}
