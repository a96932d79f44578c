import { ConfigError, HookNotFoundError, type Dim } from '@nnd/core';
import { closestNames } from './edit-distance.js';
import type { TransformerConfig } from './transformer-config.js';

/**
 * Hook points, named as in TransformerLens. Shapes use `batch` and `pos`
 * (the `seq` axis of the tokens):
 *
 * | hook | shape | value |
 * |---|---|---|
 * | `hook_embed` | [batch, pos, d_model] | token embeddings |
 * | `hook_pos_embed` (learned positions) | [batch, pos, d_model] | position embeddings |
 * | `blocks.{L}.hook_resid_pre` | [batch, pos, d_model] | residual stream entering block L |
 * | `blocks.{L}.ln1.hook_normalized` | [batch, pos, d_model] | attention input after the norm (with its scale and bias) |
 * | `blocks.{L}.attn.hook_q` | [batch, pos, head, d_head] | queries (before rotary) |
 * | `blocks.{L}.attn.hook_k`, `hook_v` | [batch, pos, key_value_head, d_head] | keys, values (key_value_head = head unless grouped-query) |
 * | `blocks.{L}.attn.hook_rot_q`, `hook_rot_k` (rotary) | as hook_q, hook_k | after rotary |
 * | `blocks.{L}.attn.hook_attn_scores` | [batch, head, q_pos, k_pos] | scaled scores, masked with float32 min |
 * | `blocks.{L}.attn.hook_pattern` | [batch, head, q_pos, k_pos] | softmax of the scores |
 * | `blocks.{L}.attn.hook_z` | [batch, pos, head, d_head] | pattern-weighted values, before W_O |
 * | `blocks.{L}.hook_attn_out` | [batch, pos, d_model] | attention output added to the residual |
 * | `blocks.{L}.hook_resid_mid` (sequential residual) | [batch, pos, d_model] | residual between attention and MLP |
 * | `blocks.{L}.ln2.hook_normalized` | [batch, pos, d_model] | MLP input after the norm |
 * | `blocks.{L}.mlp.hook_pre` | [batch, pos, d_mlp] | MLP pre-activation (the gate's, for gated MLPs) |
 * | `blocks.{L}.mlp.hook_pre_linear` (gated MLP) | [batch, pos, d_mlp] | the ungated linear branch |
 * | `blocks.{L}.mlp.hook_post` | [batch, pos, d_mlp] | MLP hidden after the activation (and gate) |
 * | `blocks.{L}.hook_mlp_out` | [batch, pos, d_model] | MLP output added to the residual |
 * | `blocks.{L}.hook_resid_post` | [batch, pos, d_model] | residual stream leaving block L |
 * | `ln_final.hook_normalized` | [batch, pos, d_model] | final norm output, what the unembedding reads |
 */
const LAYER_HOOKS = {
  resid_pre: 'blocks.{L}.hook_resid_pre',
  ln1: 'blocks.{L}.ln1.hook_normalized',
  q: 'blocks.{L}.attn.hook_q',
  k: 'blocks.{L}.attn.hook_k',
  v: 'blocks.{L}.attn.hook_v',
  rot_q: 'blocks.{L}.attn.hook_rot_q',
  rot_k: 'blocks.{L}.attn.hook_rot_k',
  attn_scores: 'blocks.{L}.attn.hook_attn_scores',
  pattern: 'blocks.{L}.attn.hook_pattern',
  z: 'blocks.{L}.attn.hook_z',
  attn_out: 'blocks.{L}.hook_attn_out',
  resid_mid: 'blocks.{L}.hook_resid_mid',
  ln2: 'blocks.{L}.ln2.hook_normalized',
  pre: 'blocks.{L}.mlp.hook_pre',
  pre_linear: 'blocks.{L}.mlp.hook_pre_linear',
  post: 'blocks.{L}.mlp.hook_post',
  mlp_out: 'blocks.{L}.hook_mlp_out',
  resid_post: 'blocks.{L}.hook_resid_post',
} as const;

const MODEL_HOOKS = {
  embed: 'hook_embed',
  pos_embed: 'hook_pos_embed',
  ln_final: 'ln_final.hook_normalized',
} as const;

export type LayerHookKind = keyof typeof LAYER_HOOKS;
export type ModelHookKind = keyof typeof MODEL_HOOKS;

/**
 * The full hook name from TransformerLens' short form, so names are never
 * typed by hand twice: `hookName('resid_pre', 8)` is `blocks.8.hook_resid_pre`,
 * `hookName('pattern', 0)` is `blocks.0.attn.hook_pattern`, `hookName('ln_final')`
 * is `ln_final.hook_normalized`.
 */
export function hookName(kind: ModelHookKind): string;
export function hookName(kind: LayerHookKind, layer: number): string;
export function hookName(kind: LayerHookKind | ModelHookKind, layer?: number): string {
  if (Object.hasOwn(MODEL_HOOKS, kind)) return MODEL_HOOKS[kind as ModelHookKind];
  if (!Object.hasOwn(LAYER_HOOKS, kind)) {
    const kinds = [...Object.keys(LAYER_HOOKS), ...Object.keys(MODEL_HOOKS)];
    throw new HookNotFoundError(
      `hookName: unknown hook kind '${kind}'; did you mean ${closestNames(kind, kinds)
        .map((name) => `'${name}'`)
        .join(', ')}? Kinds: ${kinds.join(', ')}.`,
    );
  }
  if (layer === undefined || !Number.isInteger(layer) || layer < 0) {
    throw new ConfigError(`hookName: '${kind}' is a per-block hook and needs a layer index (a non-negative integer), got ${layer}.`);
  }
  return LAYER_HOOKS[kind as LayerHookKind].replace('{L}', String(layer));
}

function layerKindApplies(kind: LayerHookKind, config: TransformerConfig): boolean {
  if (kind === 'rot_q' || kind === 'rot_k') return config.positional === 'rotary';
  if (kind === 'resid_mid') return !config.parallelResidual;
  if (kind === 'pre_linear') return config.gatedMlp;
  return true;
}

/** The hooks of blocks 0..layerCount-1 and the model-level hooks, in the order the forward pass reaches them. */
export function hookPointNames(config: TransformerConfig): string[] {
  const names: string[] = [MODEL_HOOKS.embed];
  if (config.positional === 'learned') names.push(MODEL_HOOKS.pos_embed);
  const kinds = (Object.keys(LAYER_HOOKS) as LayerHookKind[]).filter((kind) => layerKindApplies(kind, config));
  for (let layer = 0; layer < config.layerCount; layer++) names.push(...kinds.map((kind) => hookName(kind, layer)));
  names.push(MODEL_HOOKS.ln_final);
  return names;
}

/** Where a hook sits: its block (undefined for hooks before the first block) and whether it follows the last. */
export interface HookLocation {
  readonly name: string;
  /** Block index; -1 for the embeddings, layerCount for `ln_final.hook_normalized`. */
  readonly layer: number;
}

/**
 * Checks that `name` is a hook of this model. Unknown names get a
 * HookNotFoundError naming the closest valid names.
 */
export function locateHook(name: string, config: TransformerConfig, validNames: ReadonlySet<string>): HookLocation {
  if (!validNames.has(name)) {
    const suggestions = closestNames(name, [...validNames]);
    throw new HookNotFoundError(
      `Unknown hook '${name}' for this ${config.modelType} model; did you mean ${suggestions.map((hook) => `'${hook}'`).join(', ')}? ` +
        `Hook names follow TransformerLens (e.g. ${hookName('resid_pre', 0)}); list them with model.hookNames.`,
    );
  }
  const match = /^blocks\.(\d+)\./.exec(name);
  if (match) return { name, layer: Number(match[1]) };
  return { name, layer: name === MODEL_HOOKS.ln_final ? config.layerCount : -1 };
}

/** The symbolic shape of a hook's value for tokens of shape [batch, seq]. */
export function hookShape(name: string, config: TransformerConfig, batch: Dim, seq: Dim): Dim[] {
  const suffix = name.slice(name.lastIndexOf('.') + 1);
  switch (suffix) {
    case 'hook_q':
    case 'hook_rot_q':
    case 'hook_z':
      return [batch, seq, config.headCount, config.headSize];
    case 'hook_k':
    case 'hook_v':
    case 'hook_rot_k':
      return [batch, seq, config.keyValueHeadCount, config.headSize];
    case 'hook_attn_scores':
    case 'hook_pattern':
      return [batch, config.headCount, seq, seq];
    case 'hook_pre':
    case 'hook_pre_linear':
    case 'hook_post':
      return [batch, seq, config.mlpSize];
    default:
      return [batch, seq, config.hiddenSize];
  }
}
