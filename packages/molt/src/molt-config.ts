import { ConfigError, describeValue } from '@nnd/core';
import { z } from 'zod';

export const MOLT_GATES = ['topk', 'batchtopk', 'jumprelu'] as const;
export type MoltGate = (typeof MOLT_GATES)[number];

/** Anthropic's rank allocation (the MOLT post): N transforms of rank 512, 2N of 256, 4N of 128, 8N of 64, 16N of 32. */
export const ANTHROPIC_RANKS = [512, 256, 128, 64, 32] as const;

/**
 * Anthropic's ranks halved until the largest is below `width` (a rank-d
 * transform is already a full linear map), with counts N, 2N, 4N, 8N, 16N:
 * {512..32} for width 768, {64, 32, 16, 8, 4} for width 128. Ranks never go
 * below 1.
 */
export function defaultRankCounts(width: number, n: number): Record<string, number> {
  let factor = 1;
  while (ANTHROPIC_RANKS[0] / factor >= width && ANTHROPIC_RANKS[0] / factor > 1) factor *= 2;
  const counts: Record<string, number> = {};
  ANTHROPIC_RANKS.forEach((rank, index) => {
    const scaled = Math.max(1, Math.floor(rank / factor));
    counts[String(scaled)] = (counts[String(scaled)] ?? 0) + n * 2 ** index;
  });
  return counts;
}

/** What each key accepts, in words, for error messages. */
const ALLOWED: Record<string, string> = {
  architecture: "'molt'",
  d_in: 'an integer >= 1 (the width of the stream it reads, the MLP input)',
  d_out: 'an integer >= 1 (the width of the stream it writes, the MLP output)',
  rank_counts: 'an object { rank: count } with integer ranks >= 1 and counts >= 1, e.g. { "64": 1, "32": 2 }',
  gate: `one of ${MOLT_GATES.map((gate) => `'${gate}'`).join(', ')}`,
  top_k: 'an integer >= 1 and <= the number of transforms',
  lambda: 'a number >= 0 (the sparsity coefficient)',
  sparsity_penalty: "'tanh' (lambda sum_t tanh(c phi_t ||U_t V_t||_F)) or 'l1' (lambda sum_t phi_t ||U_t V_t||_F)",
  tanh_c: 'a number > 0',
  lambda_warmup_steps: 'an integer >= 0 (steps over which lambda rises linearly from 0)',
  jumprelu_surrogate: "'sigmoid' (smooth) or 'rectangle' (the JumpReLU SAE's straight-through kernel)",
  bandwidth: 'a number > 0',
  threshold_init: 'a number > 0',
  uv_init: "'scaled_normal' (std (d r)^(-1/4)), 'zero_u' (V as scaled_normal, U = 0) or 'uniform' (OpenMOSS: uniform +-1/sqrt(transforms))",
  encoder_init: "'unit_norm' or 'uniform'",
  gate_bias_init: 'a number (left out: -1 for jumprelu, 0 for topk and batchtopk)',
  dispatch: "'sparse' (each transform computed on its open tokens only; topk and batchtopk) or 'dense' (every transform on every token)",
  n_batches_to_dead: 'an integer >= 0',
  seed: 'a safe integer',
  hook_point: 'a non-empty string (the stream it reads, e.g. blocks.2.ln2.hook_normalized)',
  hook_point_out: 'a non-empty string (the stream it writes, e.g. blocks.2.hook_mlp_out)',
};

const rankCountsSchema = z.record(z.string().regex(/^[1-9][0-9]*$/), z.number().int().min(1)).refine((value) => Object.keys(value).length > 0);

export const moltConfigSchema = z
  .strictObject({
    architecture: z.literal('molt').default('molt'),
    d_in: z.number().int().min(1),
    d_out: z.number().int().min(1),
    rank_counts: rankCountsSchema,
    gate: z.enum(MOLT_GATES).default('topk'),
    top_k: z.number().int().min(1).default(16),
    lambda: z.number().min(0).default(0),
    sparsity_penalty: z.enum(['tanh', 'l1']).default('tanh'),
    tanh_c: z.number().positive().default(1),
    lambda_warmup_steps: z.number().int().min(0).default(0),
    jumprelu_surrogate: z.enum(['sigmoid', 'rectangle']).default('sigmoid'),
    bandwidth: z.number().positive().default(0.1),
    threshold_init: z.number().positive().default(0.1),
    uv_init: z.enum(['scaled_normal', 'zero_u', 'uniform']).default('scaled_normal'),
    encoder_init: z.enum(['unit_norm', 'uniform']).default('unit_norm'),
    /** Left out: -1 for JumpReLU gates (the reproducers' fix), 0 for TopK and BatchTopK (relu(pre) - 1 would leave most top-k slots at 0). */
    gate_bias_init: z.number().optional(),
    /** Left out: 'sparse' for TopK and BatchTopK, 'dense' for JumpReLU (whose surrogate gradient reaches closed gates). */
    dispatch: z.enum(['sparse', 'dense']).optional(),
    n_batches_to_dead: z.number().int().min(0).default(5),
    seed: z.number().int().default(49),
    hook_point: z.string().min(1).optional(),
    hook_point_out: z.string().min(1).optional(),
  })
  .superRefine((config, context) => {
    const transforms = Object.values(config.rank_counts).reduce((total, count) => total + count, 0);
    if (config.gate !== 'jumprelu' && config.top_k > transforms) {
      context.addIssue({ code: 'custom', path: ['top_k'], message: `top_k = ${config.top_k} exceeds the ${transforms} transforms of rank_counts; lower top_k or add transforms` });
    }
    if (config.gate === 'jumprelu' && config.dispatch === 'sparse') {
      context.addIssue({
        code: 'custom',
        path: ['dispatch'],
        message:
          "dispatch = 'sparse' needs a topk or batchtopk gate: JumpReLU's surrogate gradient reaches closed gates, which the sparse dispatch never computes; use dispatch 'dense' (the default for jumprelu)",
      });
    }
    for (const rank of Object.keys(config.rank_counts)) {
      if (Number(rank) > Math.min(config.d_in, config.d_out)) {
        context.addIssue({ code: 'custom', path: ['rank_counts'], message: `rank ${rank} exceeds min(d_in, d_out) = ${Math.min(config.d_in, config.d_out)}; a transform's rank is at most its width` });
      }
    }
  });

export type MoltConfig = z.output<typeof moltConfigSchema>;
export type MoltConfigInput = z.input<typeof moltConfigSchema>;

/** One rank group: `count` transforms of rank `rank`, features [offset, offset + count) of the gate vector. */
export interface RankGroup {
  readonly rank: number;
  readonly count: number;
  readonly offset: number;
}

/** The rank groups in descending rank order, which is the order of the transforms in W_E, b_E and the feature activations. */
export function rankGroups(rankCounts: Readonly<Record<string, number>>): RankGroup[] {
  const ranks = Object.keys(rankCounts)
    .map(Number)
    .sort((a, b) => b - a);
  let offset = 0;
  return ranks.map((rank) => {
    const group = { rank, count: rankCounts[String(rank)], offset };
    offset += group.count;
    return group;
  });
}

export function transformCount(rankCounts: Readonly<Record<string, number>>): number {
  return Object.values(rankCounts).reduce((total, count) => total + count, 0);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses a raw MOLT config, naming every offending key with its value and what is allowed. */
export function parseMoltConfig(config: unknown): MoltConfig {
  if (!isRecord(config)) throw new ConfigError(`MOLT config must be an object, got ${describeValue(config)}.`);
  const result = moltConfigSchema.safeParse(config);
  if (result.success) return result.data;
  const keys = Object.keys(moltConfigSchema.shape);
  const problems = result.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `'${key}'`).join(', ')}; allowed keys: ${keys.join(', ')}`;
    if (issue.code === 'custom') return issue.message;
    const key = String(issue.path[0]);
    const value = config[key];
    const allowed = ALLOWED[key] ?? 'see moltConfigSchema';
    return value === undefined ? `${key} is required; allowed: ${allowed}` : `${key} = ${describeValue(value)} is invalid (${issue.message}); allowed: ${allowed}`;
  });
  throw new ConfigError(`Invalid MOLT config: ${problems.join('; ')}.`);
}
