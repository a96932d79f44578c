import { ConfigError, describeValue } from '@nnd/core';
import { runName } from '@nnd/logging';
import { hookName, type LayerHookKind } from '@nnd/models';
import { z } from 'zod';
import { closestName } from './closest-name.js';
import { DECOMPOSITION_FAMILIES, DEFAULT_FAMILY, familyNamed } from './decomposition-families.js';

/**
 * TransformerLens' `site` names whose hook holds one vector per token, so an
 * SAE can read it (`blocks.{layer}.hook_{site}`, or under `attn.`/`mlp.`).
 */
export const SITES = [
  'resid_pre',
  'resid_mid',
  'resid_post',
  'attn_out',
  'mlp_out',
  'ln1',
  'ln2',
  'q',
  'k',
  'v',
  'rot_q',
  'rot_k',
  'z',
  'pre',
  'pre_linear',
  'post',
] as const satisfies readonly LayerHookKind[];
export const DEVICES = ['cpu', 'webgpu', 'cuda'] as const;
export const BACKENDS = ['onnx', 'tfjs'] as const;
export const DTYPES = ['float32'] as const;
export const CACHE_DTYPES = ['float32', 'float16'] as const;
/** The reference's W&B project, for runs that log to W&B without naming one. */
export const DEFAULT_WANDB_PROJECT = 'sparse_autoencoders';

const oneOf = (values: readonly string[]) => `one of ${values.map((value) => `'${value}'`).join(', ')}`;
const integer = (minimum: number, what = '') => {
  const allowed = `an integer >= ${minimum}${what}`;
  return z.number({ error: allowed }).int({ error: allowed }).min(minimum, { error: allowed });
};
const positive = () => z.number({ error: 'a number > 0' }).positive({ error: 'a number > 0' }).finite({ error: 'a number > 0' });
const unitInterval = () => z.number({ error: 'a number in [0, 1)' }).min(0, { error: 'a number in [0, 1)' }).lt(1, { error: 'a number in [0, 1)' });
const unitClosed = () => z.number({ error: 'a number in [0, 1]' }).min(0, { error: 'a number in [0, 1]' }).max(1, { error: 'a number in [0, 1]' });
const choice = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values, { error: oneOf(values) });
const text = () => z.string({ error: 'a non-empty string' }).min(1, { error: 'a non-empty string' });
const flag = () => z.boolean({ error: 'true or false' });
const documentTokenLimitAllowed = "an integer >= 1, 'context' (the model's context length) or 'none' (whole documents)";
/** Keys whose values take several forms: zod reports one form's complaint, so the message states them all. */
const ALLOWED_FORMS: Readonly<Record<string, string>> = { document_token_limit: documentTokenLimitAllowed };

/**
 * The keys of an nnd run that every decomposition family shares, with the
 * reference's defaults (`get_default_cfg` of bartbussmann/BatchTopK
 * config.py, as its main.py sets them for the comparison runs): the model,
 * data, store and trainer. Keys past the reference's say where the run
 * happens (`device`, `backend`, `run_dir`) and how the bundled pieces are
 * used. Each family adds its own keys (DecompositionFamily.configShape; the
 * encoder keys `dict_size`, `top_k`, ... are nn_decompositions' EncoderConfig,
 * which @nnd/sae's `encoderRunConfigShape` gives the SAE, transcoder and CLT
 * families); `runConfigSchemaFor` joins them.
 */
export const runConfigSchema = z.strictObject({
  seed: integer(0).default(49),
  batch_size: integer(1).default(4096),
  lr: positive().default(3e-4),
  num_tokens: integer(1).default(1_000_000_000),
  beta1: unitInterval().default(0.9),
  beta2: unitInterval().default(0.99),
  max_grad_norm: positive().default(100_000),
  lr_schedule: choice(['constant', 'linear', 'cosine'] as const).default('constant'),
  lr_warmup_frac: unitClosed().default(0),
  lr_final_frac: unitClosed().default(0),
  seq_len: integer(1).default(128),
  dtype: choice(DTYPES).default('float32'),
  /** A hub id (`gpt2`, `EleutherAI/pythia-70m`), a local directory, `tiny-lm` (the LM that ships with nnd), or TransformerLens' `gpt2-small`. */
  model_name: text().default('gpt2-small'),
  site: choice(SITES).default('resid_pre'),
  layer: integer(0).default(8),
  /** Derived from site and layer unless given; given, it sets them. */
  hook_point: text().optional(),
  device: choice(DEVICES).default('cpu'),
  backend: choice(BACKENDS).default('onnx'),
  model_batch_size: integer(1).default(512),
  num_batches_in_buffer: integer(1).default(10),
  /**
   * The most memory the activation store holds, in MiB: its two shuffle buffers, the model batches in flight and the batch
   * being served. It takes up to num_batches_in_buffer model batches per buffer, fewer when they do not fit (and says so).
   * The default holds the reference's SAE buffers at GPT-2 small's width (4.1 GiB); a CLT's 2n streams get fewer batches.
   */
  store_memory_mib: integer(1).default(6144),
  /** A bundled corpus (`sotu`, `moby-dick`), a local file or directory, or a Hugging Face dataset id. */
  dataset_path: text().default('Skylion007/openwebtext'),
  /** Setting it turns W&B on (unless `wandb: false`); left out, runs that log to W&B (WANDB_API_KEY, `wandb: true`) go to DEFAULT_WANDB_PROJECT. */
  wandb_project: text().optional(),
  wandb_entity: text().optional(),
  /** Upload to W&B; left out, on when `wandb_project` is set or WANDB_API_KEY is (WANDB_MODE=disabled turns it off). */
  wandb: flag().optional(),
  perf_log_freq: integer(1).default(1000),
  checkpoint_freq: integer(1).default(10_000),
  /** The run's name; derived as the reference derives it unless given. */
  name: text().optional(),
  /** Where run directories go: `{run_dir}/{name}/`. */
  run_dir: text().default('runs/'),
  /** Metrics reach the logger every this many steps. */
  log_freq: integer(1).default(1),
  /** Tokens the final evaluation reads (reconstruction, sparsity, feature density, the model's loss with the SAE spliced in). */
  eval_tokens: integer(1).default(65_536),
  /** An activation cache written by `nnd cache`: training reads it instead of running the model. */
  activation_cache: text().nullable().default(null),
  cache_dtype: choice(CACHE_DTYPES).default('float32'),
  /** Tokens kept per document, BOS included: 'context' truncates at the model's context as the reference does, 'none' keeps whole documents. */
  document_token_limit: z.union([integer(1), z.enum(['context', 'none'])], { error: documentTokenLimitAllowed }).default('context'),
  /** Carry tokens past a full model batch into the next one; the reference drops them and starts the next batch at the next document. */
  keep_remainder: flag().default(false),
  /** Drop BOS/EOS positions, whose norms are outliers, from the activations (the reference keeps them). */
  exclude_special_tokens: flag().default(false),
  /** Start the dataset again when it runs out. */
  repeat_dataset: flag().default(true),
  /**
   * Where a decomposition that writes several hooks (a CLT) takes its inputs when spliced in for evaluation:
   * 'replacement' from the patched pass itself, so errors compound as in a replacement model; 'clean_inputs'
   * from the unmodified model, as the reference evaluates CLTs. The same for decompositions of one hook.
   */
  spliced_inputs: choice(['replacement', 'clean_inputs'] as const).default('replacement'),
  /** After training, a feature dashboard of the first this many features (0: none; nnd dashboard makes one of any run later). */
  dashboard_features: integer(0).default(0),
  /** Which family of decompositions the run trains (each family's package adds its keys). */
  decomposition: choice(DECOMPOSITION_FAMILIES.map(({ name }) => name) as [string, ...string[]]).default(DEFAULT_FAMILY),
});

export type RunConfigInput = z.input<typeof runConfigSchema> & Record<string, unknown>;
type ParsedRunConfig = z.output<typeof runConfigSchema>;

/**
 * A validated run config with `hook_point` and `name` filled in: the shared
 * keys, typed, and the family's own keys (`sae_type`, `act_size`, ...) as
 * the family's schema parsed them.
 */
export type RunConfig = Omit<ParsedRunConfig, 'hook_point' | 'name'> & {
  readonly hook_point: string;
  readonly name: string;
  readonly [familyKey: string]: unknown;
};

/** One decomposition of a run: the run config with the member's own values (`sae_type`), its `method` and name, as its run directory records it. */
export type MemberConfig = RunConfig;

/** The shared keys and every family's own, each once. */
export const RUN_CONFIG_KEYS: readonly string[] = [...new Set([...Object.keys(runConfigSchema.shape), ...DECOMPOSITION_FAMILIES.flatMap(({ configShape }) => Object.keys(configShape))])];

/** The schema of a run of one family: the shared keys, with the family's own added (and its defaults where it redefines a shared key). */
export function runConfigSchemaFor(family: string) {
  return runConfigSchema.extend(familyNamed(family).configShape as z.ZodRawShape);
}

/** The reference's defaults, derived keys included. */
export function defaultRunConfig(): RunConfig {
  return parseRunConfig({});
}

/**
 * Validates a raw config (from files, flags and `--set`), fills in defaults
 * and derives `hook_point` (`blocks.{layer}.hook_{site}`, as TransformerLens'
 * `get_act_name`; `hook_point_out` from `site_out` likewise where the family
 * has it) and `name`. Every problem is named in one ConfigError with the key,
 * the value and what is allowed.
 */
export function parseRunConfig(input: unknown): RunConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ConfigError(`Invalid config: expected a mapping of keys to values, got ${describeValue(input)}.`);
  }
  const raw = input as Record<string, unknown>;
  const family = familyNamed(raw.decomposition ?? DEFAULT_FAMILY);
  const schema = runConfigSchemaFor(family.name);
  const knownKeys = Object.keys(schema.shape);
  const result = schema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        return issue.keys
          .map((key) => {
            const owner = DECOMPOSITION_FAMILIES.find((other) => key in other.configShape);
            if (owner !== undefined) return `key '${key}' belongs to decomposition '${owner.name}', but this run trains '${family.name}' (set decomposition: ${owner.name}, or drop the key)`;
            const suggestion = closestName(key, knownKeys);
            return `unknown key '${key}'${suggestion ? ` (did you mean '${suggestion}'?)` : ''}`;
          })
          .join('; ');
      }
      const key = issue.path.map(String).join('.') || '(config)';
      const value = valueAt(raw, issue.path);
      const allowed = ALLOWED_FORMS[String(issue.path[0])] ?? issue.message;
      return `'${key}' is ${describeValue(value)}; allowed: ${allowed}`;
    });
    const unknown = result.error.issues.some((issue) => issue.code === 'unrecognized_keys');
    throw new ConfigError(`Invalid config: ${problems.join('; ')}.${unknown ? ` Known keys: ${knownKeys.join(', ')}.` : ''}`);
  }
  const parsed = result.data as ParsedRunConfig & Record<string, unknown>;
  const hooks = {
    ...resolveHook(parsed, raw, ''),
    ...('site_out' in parsed ? resolveHook(parsed, raw, '_out') : {}),
  };
  if (parsed.num_tokens < parsed.batch_size) {
    throw new ConfigError(`Invalid config: 'num_tokens' is ${parsed.num_tokens}; allowed: at least batch_size (${parsed.batch_size}), so that one step runs.`);
  }
  const config = { ...parsed, ...hooks, name: '' } as RunConfig;
  const members = family.members(config);
  for (const member of members) {
    const { top_k: topK, dict_size: dictSize } = member.config as Record<string, unknown>;
    if (typeof topK === 'number' && typeof dictSize === 'number' && topK > dictSize) {
      throw new ConfigError(`Invalid config: 'top_k' is ${topK}; allowed: an integer >= 1 and <= dict_size (${dictSize}).`);
    }
  }
  return { ...config, name: parsed.name ?? runNameOf({ ...config, hook_point: members[0].hookLabel ?? config.hook_point, sae_type: members.map(({ label }) => label).join('+') }) };
}

/**
 * The run config of each decomposition of the run, each named as the
 * reference names a run (`{model_name}_{hook_point}_{dict_size}_{sae_type}_{top_k}_{lr}`).
 * A single member keeps the run's name (which may have been given).
 */
export function memberConfigs(config: RunConfig): MemberConfig[] {
  const members = familyNamed(config.decomposition).members(config);
  // `method` is what results tables and plot colours show for the run, whatever its family.
  if (members.length === 1) return [{ ...config, ...members[0].runKeys, method: members[0].label }];
  return members.map((member) => {
    const memberConfig = { ...config, ...member.runKeys, method: member.label };
    return { ...memberConfig, name: runNameOf({ ...memberConfig, hook_point: member.hookLabel ?? memberConfig.hook_point, sae_type: member.label }) };
  });
}

/**
 * `hook_point{suffix}` from `site{suffix}` and `layer`, or site and layer
 * from a given hook; both given must agree. A transcoder's output side uses
 * the suffix `_out`.
 */
function resolveHook(parsed: Record<string, unknown>, raw: Record<string, unknown>, suffix: '' | '_out'): Record<string, unknown> {
  const hookKey = `hook_point${suffix}`;
  const siteKey = `site${suffix}`;
  const given = parsed[hookKey] as string | undefined;
  if (given === undefined) {
    const site = parsed[siteKey];
    // A family may give a site its own default (a transcoder reads ln2); the names are the CLI's to check.
    if (!SITES.includes(site as (typeof SITES)[number])) throw new ConfigError(`Invalid config: '${siteKey}' is ${describeValue(site)}; allowed: ${oneOf(SITES)}.`);
    return { [hookKey]: hookName(site as LayerHookKind, parsed.layer as number) };
  }
  const layerMatch = /^blocks\.(\d+)\./.exec(given);
  const site = layerMatch ? SITES.find((candidate) => hookName(candidate, Number(layerMatch[1])) === given) : undefined;
  if (!layerMatch || site === undefined) {
    throw new ConfigError(
      `Invalid config: '${hookKey}' is ${describeValue(given)}; allowed: a per-token hook of a block, 'blocks.{layer}.hook_{site}' as TransformerLens names it ` +
        `(e.g. 'blocks.8.hook_resid_pre', 'blocks.2.mlp.hook_post', 'blocks.2.ln2.hook_normalized'), with site ${oneOf(SITES)}.`,
    );
  }
  const layer = Number(layerMatch[1]);
  for (const [key, derived] of [
    ['layer', layer],
    [siteKey, site],
  ] as const) {
    if (raw[key] !== undefined && raw[key] !== derived) {
      throw new ConfigError(`Invalid config: '${hookKey}' is '${given}' but '${key}' is ${describeValue(raw[key])}; give one of them, or values that agree (${key} ${describeValue(derived)}).`);
    }
  }
  if (suffix === '_out' && parsed.hook_point !== undefined) {
    const inputLayer = /^blocks\.(\d+)\./.exec(String(parsed.hook_point))?.[1];
    if (inputLayer !== undefined && Number(inputLayer) !== layer) {
      throw new ConfigError(`Invalid config: 'hook_point_out' is '${given}' (layer ${layer}) but the input hook is of layer ${inputLayer}; a transcoder reads and writes the same layer's MLP.`);
    }
    return { [hookKey]: given, [siteKey]: site };
  }
  return { [hookKey]: given, [siteKey]: site, layer };
}

/** The reference's run name; a family without a dictionary (no dict_size, or no top_k) is named without it. */
function runNameOf(fields: Record<string, unknown>): string {
  const absent = '\u0000';
  const named = { ...fields, dict_size: fields.dict_size ?? absent, top_k: fields.top_k ?? absent } as Parameters<typeof runName>[0];
  return runName(named)
    .split('_')
    .filter((part) => part !== absent)
    .join('_');
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) value = typeof value === 'object' && value !== null ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  return value;
}
