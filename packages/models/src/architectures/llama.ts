import { ConfigError } from '@nnd/core';
import { transpose2d, type FloatTensor } from '../host-tensors.js';
import type { HuggingFaceConfig } from '../hugging-face-config.js';
import type { TransformerConfig } from '../transformer-config.js';
import type { WeightReader } from '../weight-files.js';
import type { Architecture } from './architecture.js';

/**
 * Llama (`LlamaForCausalLM`): RMSNorm, SwiGLU MLP (gate_proj is W_gate,
 * up_proj is W_in), full rotary (q/k rows are already in rotate-half order
 * in Hugging Face checkpoints), grouped-query attention, untied lm_head
 * unless `tie_word_embeddings`.
 */
export const llama: Architecture = {
  modelType: 'llama',
  config(source: HuggingFaceConfig): TransformerConfig {
    source.requireDefaultRope();
    const hiddenSize = source.integer('hidden_size');
    const headCount = source.integer('num_attention_heads');
    const keyValueHeadCount = source.integer('num_key_value_heads', headCount);
    if (headCount % keyValueHeadCount !== 0) {
      throw new ConfigError(`${source.source}: num_attention_heads ${headCount} is not a multiple of num_key_value_heads ${keyValueHeadCount}.`);
    }
    const headSize = source.integer('head_dim', Math.floor(hiddenSize / headCount));
    return {
      modelType: 'llama',
      layerCount: source.integer('num_hidden_layers'),
      hiddenSize,
      headCount,
      keyValueHeadCount,
      headSize,
      mlpSize: source.integer('intermediate_size'),
      vocabSize: source.integer('vocab_size'),
      contextLength: source.integer('max_position_embeddings'),
      normalization: 'rmsNorm',
      normEpsilon: source.number('rms_norm_eps', 1e-6),
      activation: source.activation('hidden_act', 'silu'),
      positional: 'rotary',
      rotaryDim: headSize,
      rotaryBase: source.ropeParameter('rope_theta', ['rope_theta'], 10000),
      parallelResidual: false,
      gatedMlp: true,
      tiedEmbeddings: source.boolean('tie_word_embeddings', false),
      attentionBias: source.boolean('attention_bias', false),
      mlpBias: source.boolean('mlp_bias', false),
      bosTokenId: source.optionalInteger('bos_token_id'),
      eosTokenId: source.optionalInteger('eos_token_id'),
    };
  },
  async convert(weights: WeightReader, config: TransformerConfig) {
    const read = (name: string) => weights.read(`model.${name}`);
    const linear = async (name: string) => transpose2d(await read(name));
    const out = new Map<string, FloatTensor>();
    out.set('embed.W_E', await read('embed_tokens.weight'));
    for (let layer = 0; layer < config.layerCount; layer++) {
      const source = `layers.${layer}`;
      const block = `blocks.${layer}`;
      out.set(`${block}.ln1.w`, await read(`${source}.input_layernorm.weight`));
      for (const [part, projection] of [
        ['Q', 'q_proj'],
        ['K', 'k_proj'],
        ['V', 'v_proj'],
        ['O', 'o_proj'],
      ]) {
        out.set(`${block}.attn.W_${part}`, await linear(`${source}.self_attn.${projection}.weight`));
        if (config.attentionBias) out.set(`${block}.attn.b_${part}`, await read(`${source}.self_attn.${projection}.bias`));
      }
      out.set(`${block}.ln2.w`, await read(`${source}.post_attention_layernorm.weight`));
      out.set(`${block}.mlp.W_gate`, await linear(`${source}.mlp.gate_proj.weight`));
      out.set(`${block}.mlp.W_in`, await linear(`${source}.mlp.up_proj.weight`));
      out.set(`${block}.mlp.W_out`, await linear(`${source}.mlp.down_proj.weight`));
      if (config.mlpBias) {
        out.set(`${block}.mlp.b_in`, await read(`${source}.mlp.up_proj.bias`));
        out.set(`${block}.mlp.b_out`, await read(`${source}.mlp.down_proj.bias`));
      }
    }
    out.set('ln_final.w', await read('norm.weight'));
    if (!config.tiedEmbeddings) out.set('unembed.W_U', transpose2d(await weights.read('lm_head.weight')));
    return out;
  },
};
