import { ConfigError } from '@nnd/core';
import { takeRows, transpose2d, type FloatTensor } from '../host-tensors.js';
import type { HuggingFaceConfig } from '../hugging-face-config.js';
import type { TransformerConfig } from '../transformer-config.js';
import type { WeightReader } from '../weight-files.js';
import type { Architecture } from './architecture.js';

/**
 * GPT-NeoX / Pythia (`GPTNeoXForCausalLM`): parallel residual by default,
 * a fused query_key_value projection whose output is laid out per head as
 * [q, k, v] (Hugging Face views it as [heads, 3 * d_head]), partial rotary
 * embeddings, untied `embed_out`.
 */
export const gptNeox: Architecture = {
  modelType: 'gpt_neox',
  config(source: HuggingFaceConfig): TransformerConfig {
    source.requireDefaultRope();
    const hiddenSize = source.integer('hidden_size');
    const headCount = source.integer('num_attention_heads');
    if (hiddenSize % headCount !== 0) throw new ConfigError(`${source.source}: hidden_size ${hiddenSize} is not divisible by num_attention_heads ${headCount}.`);
    const headSize = hiddenSize / headCount;
    // transformers' GPTNeoXConfig defaults rotary_pct (partial_rotary_factor in 5.x) to 0.25, not 1.
    const rotaryFraction = source.ropeParameter('partial_rotary_factor', ['rotary_pct', 'partial_rotary_factor'], 0.25);
    return {
      modelType: 'gpt_neox',
      layerCount: source.integer('num_hidden_layers'),
      hiddenSize,
      headCount,
      keyValueHeadCount: headCount,
      headSize,
      mlpSize: source.integer('intermediate_size'),
      vocabSize: source.integer('vocab_size'),
      contextLength: source.integer('max_position_embeddings'),
      normalization: 'layerNorm',
      normEpsilon: source.number('layer_norm_eps', 1e-5),
      activation: source.activation('hidden_act', 'gelu'),
      positional: 'rotary',
      // Hugging Face truncates: int(head_size * rotary_pct).
      rotaryDim: Math.floor(headSize * rotaryFraction),
      rotaryBase: source.ropeParameter('rope_theta', ['rope_theta', 'rotary_emb_base'], 10000),
      parallelResidual: source.boolean('use_parallel_residual', true),
      gatedMlp: false,
      tiedEmbeddings: source.boolean('tie_word_embeddings', false),
      attentionBias: source.boolean('attention_bias', true),
      mlpBias: true,
      bosTokenId: source.optionalInteger('bos_token_id'),
      eosTokenId: source.optionalInteger('eos_token_id'),
    };
  },
  async convert(weights: WeightReader, config: TransformerConfig) {
    const read = (name: string) => weights.read(`gpt_neox.${name}`);
    const out = new Map<string, FloatTensor>();
    const { headCount, headSize } = config;
    // Row indices of part (0 = q, 1 = k, 2 = v) in the fused [heads * 3 * d_head] output.
    const partRows = (part: number) =>
      Array.from({ length: headCount * headSize }, (_, index) => {
        const head = Math.floor(index / headSize);
        return head * 3 * headSize + part * headSize + (index % headSize);
      });
    out.set('embed.W_E', await read('embed_in.weight'));
    for (let layer = 0; layer < config.layerCount; layer++) {
      const source = `layers.${layer}`;
      const block = `blocks.${layer}`;
      out.set(`${block}.ln1.w`, await read(`${source}.input_layernorm.weight`));
      out.set(`${block}.ln1.b`, await read(`${source}.input_layernorm.bias`));
      const fused = await read(`${source}.attention.query_key_value.weight`);
      const fusedBias = config.attentionBias ? await read(`${source}.attention.query_key_value.bias`) : undefined;
      ['Q', 'K', 'V'].forEach((part, index) => {
        out.set(`${block}.attn.W_${part}`, transpose2d(takeRows(fused, partRows(index))));
        if (fusedBias) {
          const bias = takeRows({ ...fusedBias, shape: [fusedBias.shape[0], 1] }, partRows(index));
          out.set(`${block}.attn.b_${part}`, { ...bias, shape: [bias.shape[0]] });
        }
      });
      out.set(`${block}.attn.W_O`, transpose2d(await read(`${source}.attention.dense.weight`)));
      if (config.attentionBias) out.set(`${block}.attn.b_O`, await read(`${source}.attention.dense.bias`));
      out.set(`${block}.ln2.w`, await read(`${source}.post_attention_layernorm.weight`));
      out.set(`${block}.ln2.b`, await read(`${source}.post_attention_layernorm.bias`));
      out.set(`${block}.mlp.W_in`, transpose2d(await read(`${source}.mlp.dense_h_to_4h.weight`)));
      out.set(`${block}.mlp.b_in`, await read(`${source}.mlp.dense_h_to_4h.bias`));
      out.set(`${block}.mlp.W_out`, transpose2d(await read(`${source}.mlp.dense_4h_to_h.weight`)));
      out.set(`${block}.mlp.b_out`, await read(`${source}.mlp.dense_4h_to_h.bias`));
    }
    out.set('ln_final.w', await read('final_layer_norm.weight'));
    out.set('ln_final.b', await read('final_layer_norm.bias'));
    if (!config.tiedEmbeddings) out.set('unembed.W_U', transpose2d(await weights.read('embed_out.weight')));
    return out;
  },
};
