import { ConfigError, HookNotFoundError, ShapeError, type HostTensor } from '@nnd/core';
import { hookShape, type HookedTransformer } from '@nnd/models';
import type { ActivationModel } from './activation-model.js';
import type { TextTokenizer } from './text-tokenizer.js';

export interface HookedTransformerActivationsOptions {
  /** Names the model in manifests and logs, e.g. its directory or hub id (default: its model type and size). */
  name?: string;
}

/**
 * Blocks a run must build so that every hook has its value: block L's hooks
 * need blocks 0..L, `blocks.L.hook_resid_pre` only 0..L-1 (it is block L's
 * input), the embeddings none and `ln_final` all. Passed as the model's
 * `stopAtLayer`, as the reference passes `layer + 1`.
 */
export function stopAtLayerFor(hooks: readonly string[], layerCount: number): number {
  let stop = 0;
  for (const hook of hooks) {
    const match = /^blocks\.(\d+)\./.exec(hook);
    if (match) stop = Math.max(stop, hook.endsWith('.hook_resid_pre') ? Number(match[1]) : Number(match[1]) + 1);
    else if (hook.startsWith('ln_final.')) stop = layerCount;
  }
  return Math.min(stop, layerCount);
}

/** A HookedTransformer as an ActivationModel, with its tokenizer's BOS, EOS and padding ids as special tokens. */
export function hookedTransformerActivations(model: HookedTransformer, options: HookedTransformerActivationsOptions = {}): ActivationModel {
  const { config } = model;
  const known = new Set(model.hookNames);
  let tokenizer: TextTokenizer | undefined;
  if (model.tokenizer !== undefined) {
    const inner = model.tokenizer;
    const special = [inner.padTokenId, config.eosTokenId].filter((id): id is number => id !== undefined);
    tokenizer = { encode: (text) => inner.encode(text), bosTokenId: inner.bosTokenId, specialTokenIds: [...new Set(special)] };
  }
  const activationSize = (hook: string): number => {
    if (!known.has(hook)) {
      const examples = model.hookNames
        .filter((name) => name.startsWith('blocks.0.'))
        .slice(0, 6)
        .join(', ');
      throw new HookNotFoundError(`This ${config.modelType} model has no hook '${hook}'; hooks are named like ${examples} (see model.hookNames).`);
    }
    const shape = hookShape(hook, config, 'batch', 'pos');
    if (shape[0] !== 'batch' || shape[1] !== 'pos' || shape.slice(2).some((dim) => typeof dim !== 'number')) {
      throw new ConfigError(`Hook '${hook}' has shape [${shape.join(', ')}], not one vector per position [batch, pos, ...]; pick a per-position hook such as blocks.0.hook_resid_pre.`);
    }
    return (shape.slice(2) as number[]).reduce((product, dim) => product * dim, 1);
  };
  return {
    name: options.name ?? `${config.modelType} (${config.layerCount} layers, d_model ${config.hiddenSize})`,
    contextLength: config.contextLength,
    tokenizer,
    activationSize,
    async harvest(tokens: HostTensor<'int64'>, hooks: readonly string[]) {
      const sizes = hooks.map(activationSize);
      const { cache } = await model.runWithCache(tokens, { names: hooks, stopAtLayer: stopAtLayerFor(hooks, config.layerCount) });
      const result: Record<string, Float32Array> = {};
      hooks.forEach((hook, index) => {
        const value = cache[hook];
        const expected = tokens.shape[0] * tokens.shape[1] * sizes[index];
        if (value === undefined || value.data.length !== expected) {
          throw new ShapeError(
            `The model returned ${value === undefined ? 'no value' : `${value.data.length} values`} for hook '${hook}'; expected ${expected} ([${tokens.shape.join(', ')}] tokens x ${sizes[index]}).`,
          );
        }
        result[hook] = value.data instanceof Float32Array ? value.data : Float32Array.from(value.data as ArrayLike<number>);
      });
      return result;
    },
  };
}
