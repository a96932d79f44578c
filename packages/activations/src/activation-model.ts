import type { HostTensor } from '@nnd/core';
import type { TextTokenizer } from './text-tokenizer.js';

/**
 * What the store needs from a model: the width of a hook's activation at
 * one position, and a run that returns hook values for a batch of tokens.
 * `hookedTransformerActivations` adapts `@nnd/models`' HookedTransformer;
 * tests use fakes.
 */
export interface ActivationModel {
  /** Names the model in cache manifests and log lines. */
  readonly name: string;
  /** Longest sequence the model accepts (TransformerLens `n_ctx`); sequence lengths are capped to it. */
  readonly contextLength: number;
  /** Used for text datasets unless the store is given another. */
  readonly tokenizer?: TextTokenizer;
  /**
   * Floats per position at `hook` (`d_model` for `blocks.2.hook_resid_pre`,
   * `n_heads * d_head` for `hook_z`). Throws an NndError for a hook the
   * model lacks or one that is not per position (attention patterns).
   */
  activationSize(hook: string): number;
  /**
   * Runs the model on int64 tokens [batch, seq], only as far as the hooks
   * need, and returns each hook's values as [batch * seq, activationSize]
   * row-major float32 (row b * seq + s is position s of sequence b).
   */
  harvest(tokens: HostTensor<'int64'>, hooks: readonly string[]): Promise<Record<string, Float32Array>>;
}
