import { ConfigError, type DecompositionFamily, type FamilyMember } from '@nnd/core';
import { z } from 'zod';
import { defaultRankCounts, MOLT_GATES, parseMoltConfig } from './molt-config.js';
import { loadMolt, saveMolt } from './molt-files.js';
import { createMolt, type Molt } from './molt.js';

const integer = (minimum: number, what: string) => z.number({ error: what }).int({ error: what }).min(minimum, { error: what });
const number = (what: string) => z.number({ error: what }).finite({ error: what });

/** Keys of the run config copied into the MOLT's config as they are. */
const COPIED = [
  'hook_point',
  'hook_point_out',
  'gate',
  'top_k',
  'lambda',
  'sparsity_penalty',
  'tanh_c',
  'jumprelu_surrogate',
  'bandwidth',
  'threshold_init',
  'uv_init',
  'encoder_init',
  'gate_bias_init',
  'n_batches_to_dead',
  'seed',
  'rank_counts',
  'dispatch',
] as const;

/**
 * MOLTs as `nnd train` sees them (`decomposition: molt`): one MOLT reading
 * `hook_point` (site `ln2`: the MLP input) and writing `hook_point_out`
 * (site_out `mlp_out`), widths from the model; rank_counts from `molt_n`
 * and the width unless given; lambda's warm-up in steps from the run's
 * length (`lambda_warmup_fraction` of num_tokens / batch_size).
 */
export const moltFamily: DecompositionFamily = {
  name: 'molt',
  summary: 'sparse mixtures of linear transforms (TopK, BatchTopK or JumpReLU gates) from the MLP input to the MLP output',
  directoryName: 'molt',
  configShape: {
    site: z.string({ error: 'a site name' }).default('ln2').describe("the site it reads: 'ln2' is the MLP input (blocks.L.ln2.hook_normalized)"),
    site_out: z.string({ error: 'a site name' }).default('mlp_out').describe("the site it writes: 'mlp_out' is the MLP output (blocks.L.hook_mlp_out)"),
    hook_point_out: z.string({ error: 'a non-empty string' }).min(1).optional().describe('the hook it writes; derived from site_out and layer unless given'),
    rank_counts: z
      .record(z.string().regex(/^[1-9][0-9]*$/), integer(1, 'an integer >= 1'), { error: 'an object { rank: count }, e.g. { "64": 1, "32": 2 }' })
      .optional()
      .describe("transforms per rank, e.g. { '64': 1, '32': 2 }; left out, Anthropic's {512: N, 256: 2N, 128: 4N, 64: 8N, 32: 16N}, halved until below the width"),
    molt_n: integer(1, 'an integer >= 1').default(1).describe('N of the default rank_counts (N, 2N, 4N, 8N, 16N transforms per rank group)'),
    gate: z
      .enum(MOLT_GATES, { error: `one of ${MOLT_GATES.map((gate) => `'${gate}'`).join(', ')}` })
      .default('topk')
      .describe("the gate: 'topk' and 'batchtopk' keep top_k transforms per token (k-matched with transcoders), 'jumprelu' learns thresholds under the lambda penalty"),
    top_k: integer(1, 'an integer >= 1').default(16).describe('transforms kept per token (topk, batchtopk)'),
    lambda: number('a number >= 0').min(0, { error: 'a number >= 0' }).default(0).describe('the sparsity coefficient of lambda sum_t tanh(c phi_t ||U_t V_t||_F); JumpReLU runs need it > 0'),
    sparsity_penalty: z.enum(['tanh', 'l1'], { error: "'tanh' or 'l1'" }).default('tanh').describe("'tanh' (Anthropic's) or 'l1' (lambda sum_t phi_t ||U_t V_t||_F)"),
    tanh_c: number('a number > 0').positive({ error: 'a number > 0' }).default(1).describe('c of the tanh penalty'),
    lambda_warmup_fraction: number('a number in [0, 1]').min(0).max(1).default(0.1).describe('lambda rises linearly from 0 over this fraction of the steps'),
    jumprelu_surrogate: z
      .enum(['sigmoid', 'rectangle'], { error: "'sigmoid' or 'rectangle'" })
      .default('sigmoid')
      .describe("the JumpReLU gate's backward pass: 'sigmoid' (smooth, lets closed gates reopen) or 'rectangle' (the JumpReLU SAE's straight-through)"),
    bandwidth: number('a number > 0').positive({ error: 'a number > 0' }).default(0.1).describe('width of the JumpReLU surrogate kernel'),
    threshold_init: number('a number > 0').positive({ error: 'a number > 0' }).default(0.1).describe('initial JumpReLU threshold'),
    uv_init: z
      .enum(['scaled_normal', 'zero_u', 'uniform'], { error: "'scaled_normal', 'zero_u' or 'uniform'" })
      .default('scaled_normal')
      .describe(
        "'scaled_normal': U and V normal with std (d r)^(-1/4) (the reproducers' fix), ||U V||_F near sqrt(d); 'zero_u': V so, U = 0, so every transform starts writing 0 and no gate is pushed shut before its map learns (better on the tiny LM); 'uniform': OpenMOSS's +-1/sqrt(transforms)",
      ),
    dispatch: z
      .enum(['sparse', 'dense'], { error: "'sparse' or 'dense'" })
      .optional()
      .describe("'sparse': each transform computed on the tokens its gate opens only (topk, batchtopk; their default); 'dense': every transform on every token (jumprelu's only choice)"),
    encoder_init: z.enum(['unit_norm', 'uniform'], { error: "'unit_norm' or 'uniform'" }).default('unit_norm').describe('encoder rows of unit norm at init, or uniform'),
    gate_bias_init: number('a number').optional().describe('initial gate bias b_E (pre = x W_E + b_E); left out, -1 for jumprelu gates and 0 for topk and batchtopk'),
    d_in: integer(1, 'an integer >= 1').optional().describe('the width of hook_point; left out, read from the model'),
    d_out: integer(1, 'an integer >= 1').optional().describe('the width of hook_point_out; left out, read from the model'),
    n_batches_to_dead: integer(0, 'an integer >= 0').default(5).describe('a transform whose gate stays closed for this many batches counts as dead'),
  },
  members(run, hookWidth): FamilyMember[] {
    const config: Record<string, unknown> = { architecture: 'molt' };
    for (const key of COPIED) if (run[key] !== undefined) config[key] = run[key];
    for (const [key, hookKey] of [
      ['d_in', 'hook_point'],
      ['d_out', 'hook_point_out'],
    ] as const) {
      const hook = run[hookKey] as string | undefined;
      const width = hook !== undefined ? hookWidth?.(hook) : undefined;
      const given = run[key] as number | undefined;
      if (given !== undefined && width !== undefined && given !== width) {
        throw new ConfigError(`Invalid config: '${key}' is ${given}; allowed: ${width}, the width of ${hook} in ${String(run.model_name)} (or leave it out).`);
      }
      const value = given ?? width;
      if (value !== undefined) config[key] = value;
    }
    if (config.rank_counts === undefined && config.d_in !== undefined && config.d_out !== undefined) {
      config.rank_counts = defaultRankCounts(Math.min(config.d_in as number, config.d_out as number), (run.molt_n as number | undefined) ?? 1);
    }
    const steps = typeof run.num_tokens === 'number' && typeof run.batch_size === 'number' ? Math.floor(run.num_tokens / run.batch_size) : 0;
    config.lambda_warmup_steps = Math.round(((run.lambda_warmup_fraction as number | undefined) ?? 0.1) * steps);
    return [{ label: 'molt', runKeys: {}, config }];
  },
  create: (config) => createMolt(parseMoltConfig(config)),
  save: (directory, decomposition, params, state, metadata) => saveMolt(directory, decomposition as Molt, params, state, metadata),
  async load(directory) {
    const { molt, params, state, metadata } = await loadMolt(directory);
    return { decomposition: molt, params, state, metadata };
  },
};
