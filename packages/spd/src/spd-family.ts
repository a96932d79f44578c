import { ConfigError, type Decomposition, type DecompositionFamily, type FamilyContext, type FamilyMember, type HostTensor } from '@nnd/core';
import type { HookedTransformer } from '@nnd/models';
import { z } from 'zod';
import { spdConfigSchema } from './spd-config.js';
import { createSpd, type SpdDecomposition } from './spd-decomposition.js';
import { evaluateSpd } from './spd-evaluation.js';
import { loadSpd, readSpdFolderConfig, saveSpd } from './spd-files.js';
import { expandModules, transformerTarget } from './transformer-target.js';

/** One line per key for `nnd train --help`. */
const DESCRIPTIONS: Record<string, string> = {
  tied_weights: "pairs [source, target] of modules whose components are tied (target V = source U transposed, target U = source V transposed), as spd's TMS",
  ci_fn_type: 'causal-importance function: mlp (per component, on its own activation), vector_mlp (per component, on the input vector) or shared_mlp',
  ci_fn_hidden_dims: 'hidden widths of the causal-importance MLPs',
  use_delta_component: 'W - VU as one more component with its own random mask',
  sampling: 'continuous masks m = g + (1 - g) r with r ~ U(0, 1)',
  n_mask_samples: 'stochastic masks drawn per loss and step',
  faithfulness_coeff: 'weight of sum ||W - VU||^2 / (decomposed weights)',
  stochastic_recon_coeff: 'weight of the KL of the output with stochastic masks on every module',
  stochastic_recon_layerwise_coeff: 'weight of the same with one module masked at a time',
  stochastic_recon_subset_coeff: 'weight of the same with a random k-subset of modules masked per position (uniform_k_subset)',
  importance_minimality_coeff: 'weight of the importance-minimality loss sum_c mean |g_c|^p',
  pnorm: 'p of the importance-minimality loss',
  p_anneal_final_p: 'p is annealed linearly to this value (null: not annealed)',
  p_anneal_start_frac: 'fraction of training where the annealing of p starts',
  p_anneal_end_frac: 'fraction of training where it ends',
  importance_minimality_beta: "spd's log2 term of the importance loss (0: the paper's loss)",
  importance_minimality_eps: 'added to the causal importances before the power',
  pgd_recon_coeff: 'weight of the reconstruction with adversarial masks (PGD)',
  pgd_init: 'where the PGD mask sources start: random, ones or zeros',
  pgd_step_size: 'PGD sign-gradient step',
  pgd_n_steps: 'sign-gradient steps of PGD per training step',
  pgd_mask_scope: 'one PGD source per component for the whole batch (shared_across_batch) or per position',
  pgd_routing: 'PGD masks every module (all) or a random k-subset per position (uniform_k_subset)',
  ci_alive_threshold: 'a component counts in the logged CI-L0 when its causal importance exceeds this',
  grad_clip_norm_components: 'clip V and U gradients to this global norm (null: with the rest, at max_grad_norm)',
  grad_clip_norm_ci_fns: "clip the causal-importance functions' gradients to this global norm (null: with the rest)",
  faithfulness_warmup_steps: 'AdamW steps on V and U alone towards VU = W before training',
  faithfulness_warmup_lr: 'learning rate of the faithfulness warm-up',
  faithfulness_warmup_weight_decay: 'weight decay of the faithfulness warm-up',
};

const describedShape = Object.fromEntries(
  Object.entries(spdConfigSchema.shape)
    .filter(([key]) => key !== 'modules')
    .map(([key, schema]) => [key, (schema as z.ZodType).describe(DESCRIPTIONS[key] ?? key)]),
);

function modelOf(context: FamilyContext | undefined, where: string): HookedTransformer {
  const model = context?.model as HookedTransformer | undefined;
  if (model === undefined || typeof (model as { buildGraph?: unknown }).buildGraph !== 'function') {
    throw new ConfigError(`${where}: SPD decomposes a model's weights, so it needs the loaded model (context.model, a HookedTransformer).`);
  }
  return model;
}

function sequenceLengthOf(config: Record<string, unknown>, context: FamilyContext | undefined, model: HookedTransformer): number {
  const seq = (config.seq_len as number | undefined) ?? context?.sequenceLength ?? 128;
  return Math.min(seq, model.config.contextLength);
}

/**
 * SPD as `nnd train` sees it (`decomposition: spd`): `spd_modules` names the
 * model's matrices (`mlp`, `attn`, `all` or a comma-separated list such as
 * `blocks.0.mlp.W_in,blocks.0.mlp.W_out`), each with `C` components; a step
 * reads `batch_size` token sequences of `seq_len` and runs the frozen model
 * through them. Saved as components.safetensors and config.json with the
 * model's weights' sha256.
 */
export const spdFamily: DecompositionFamily = {
  name: 'spd',
  summary: "stochastic parameter decomposition of the model's weight matrices (goodfire-ai/spd), trained through the frozen model",
  directoryName: 'spd',
  trainsThroughModel: true,
  configShape: {
    spd_modules: z
      .string({ error: 'mlp, attn, all, or a comma-separated list of matrix names' })
      .min(1, { error: 'mlp, attn, all, or a comma-separated list of matrix names' })
      .default('mlp')
      .describe('the matrices to decompose: mlp (both MLP matrices of every layer), attn (Q, K, V, O), all, or names such as blocks.0.mlp.W_in,blocks.0.mlp.W_out'),
    C: z.number({ error: 'an integer >= 1' }).int({ error: 'an integer >= 1' }).min(1, { error: 'an integer >= 1' }).default(256).describe('components per decomposed matrix'),
    batch_size: z
      .number({ error: 'an integer >= 1' })
      .int({ error: 'an integer >= 1' })
      .min(1, { error: 'an integer >= 1' })
      .default(8)
      .describe('token sequences (of seq_len) per SPD step; steps = num_tokens / batch_size, so num_tokens counts sequences for spd'),
    ...describedShape,
  },
  members(run): FamilyMember[] {
    const config: Record<string, unknown> = { spd_modules: run.spd_modules, C: run.C, seq_len: run.seq_len, model_name: run.model_name };
    for (const key of Object.keys(describedShape)) if (run[key] !== undefined) config[key] = run[key];
    // Run names read {model}_{modules}_C{C}_spd_{lr}: the matrices and C tell SPD runs apart, as hook and dict_size do SAEs.
    return [{ label: 'spd', runKeys: {}, config, hookLabel: `${String(run.spd_modules).replace(/[^A-Za-z0-9_.-]+/g, '+')}_C${String(run.C)}` }];
  },
  create(config, context): Decomposition {
    const model = modelOf(context, 'spdFamily.create');
    const { architecture: _architecture, ...recorded } = config as Record<string, unknown>;
    if (Array.isArray(recorded.modules)) {
      // The decomposition's own config as a checkpoint records it (its modules with their C), rebuilt around the given model.
      return createSpd(transformerTarget(model, sequenceLengthOf({}, context, model), model.config.modelType), recorded);
    }
    const { spd_modules: modules, C, seq_len: _seq, model_name: modelName, ...rest } = config as Record<string, unknown>;
    const target = transformerTarget(model, sequenceLengthOf(config as Record<string, unknown>, context, model), String(modelName ?? model.config.modelType));
    // A checkpoint records the decomposition's own config, whose modules are already expanded.
    if (Array.isArray(rest.modules)) {
      const { architecture: _architecture, ...saved } = rest;
      return createSpd(target, saved);
    }
    if (typeof C !== 'number' || !Number.isInteger(C) || C < 1) throw new ConfigError(`Invalid config: 'C' is ${JSON.stringify(C)}; allowed: an integer >= 1 (components per matrix).`);
    return createSpd(target, { ...rest, modules: expandModules(target, String(modules ?? 'mlp')).map((name) => ({ name, C })) });
  },
  async save(directory, decomposition, params, _state, metadata) {
    await saveSpd(directory, decomposition as SpdDecomposition, params, metadata);
  },
  async load(directory, context) {
    const model = modelOf(context, 'spdFamily.load');
    const probe = await readSpdFolderConfig(directory);
    const seq = (probe?.metadata?.context_size as number | undefined) ?? context?.sequenceLength ?? 128;
    const { spd, params, metadata } = await loadSpd(directory, transformerTarget(model, Math.min(seq, model.config.contextLength), probe?.target?.name ?? model.config.modelType));
    return { decomposition: spd, params, state: {}, metadata };
  },
  async savedMetadata(directory) {
    const folder = await readSpdFolderConfig(directory);
    if (folder === undefined) return undefined;
    // saveSpd's callers record the model's name in metadata (nnd train does); the target's name is the decomposed model's own.
    return { model_name: folder.target?.name, ...folder.metadata };
  },
  async evaluate(decomposition, params: Record<string, HostTensor>, tokenBatches, context) {
    const model = modelOf(context, 'spdFamily.evaluate');
    return evaluateSpd(
      decomposition as SpdDecomposition,
      params,
      tokenBatches.map((tokens) => ({ tokens })),
      { backend: model.backend },
    );
  },
};
