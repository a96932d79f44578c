import { ConfigError } from '@nnd/core';
import { takeColumns, takeRange, transpose2d, type FloatTensor } from '../host-tensors.js';
import type { HuggingFaceConfig } from '../hugging-face-config.js';
import type { TransformerConfig } from '../transformer-config.js';
import type { WeightReader } from '../weight-files.js';
import type { Architecture } from './architecture.js';

/**
 * GPT-2 (`GPT2LMHeadModel`). Its Conv1D layers store weights [in, out], the
 * layout the graph multiplies by, so only the fused c_attn needs splitting.
 * Checkpoints saved from GPT2LMHeadModel prefix names with `transformer.`;
 * the hub's `gpt2` does not: both load. Embeddings are tied.
 */
export const gpt2: Architecture = {
  modelType: 'gpt2',
  config(source: HuggingFaceConfig): TransformerConfig {
    if (source.boolean('scale_attn_by_inverse_layer_idx', false)) {
      throw new ConfigError(`${source.source}: "scale_attn_by_inverse_layer_idx" true is not supported.`);
    }
    if (!source.boolean('scale_attn_weights', true)) {
      throw new ConfigError(`${source.source}: "scale_attn_weights" false is not supported.`);
    }
    const hiddenSize = source.integer('n_embd');
    const headCount = source.integer('n_head');
    if (hiddenSize % headCount !== 0) throw new ConfigError(`${source.source}: n_embd ${hiddenSize} is not divisible by n_head ${headCount}.`);
    return {
      modelType: 'gpt2',
      layerCount: source.integer('n_layer'),
      hiddenSize,
      headCount,
      keyValueHeadCount: headCount,
      headSize: hiddenSize / headCount,
      mlpSize: source.integer('n_inner', 4 * hiddenSize),
      vocabSize: source.integer('vocab_size'),
      contextLength: source.integer('n_positions'),
      normalization: 'layerNorm',
      normEpsilon: source.number('layer_norm_epsilon', 1e-5),
      activation: source.activation('activation_function', 'gelu_new'),
      positional: 'learned',
      rotaryDim: 0,
      rotaryBase: 0,
      parallelResidual: false,
      gatedMlp: false,
      tiedEmbeddings: source.boolean('tie_word_embeddings', true),
      attentionBias: true,
      mlpBias: true,
      bosTokenId: source.optionalInteger('bos_token_id'),
      eosTokenId: source.optionalInteger('eos_token_id'),
    };
  },
  async convert(weights: WeightReader, config: TransformerConfig) {
    const prefix = weights.has('transformer.wte.weight') ? 'transformer.' : '';
    const read = (name: string) => weights.read(`${prefix}${name}`);
    const out = new Map<string, FloatTensor>();
    out.set('embed.W_E', await read('wte.weight'));
    out.set('pos_embed.W_pos', await read('wpe.weight'));
    const width = config.hiddenSize;
    for (let layer = 0; layer < config.layerCount; layer++) {
      const source = `h.${layer}`;
      const block = `blocks.${layer}`;
      out.set(`${block}.ln1.w`, await read(`${source}.ln_1.weight`));
      out.set(`${block}.ln1.b`, await read(`${source}.ln_1.bias`));
      // c_attn is [d, 3d]: queries, keys and values side by side, each with heads side by side.
      const fused = await read(`${source}.attn.c_attn.weight`);
      const fusedBias = await read(`${source}.attn.c_attn.bias`);
      ['Q', 'K', 'V'].forEach((part, index) => {
        out.set(`${block}.attn.W_${part}`, takeColumns(fused, index * width, (index + 1) * width));
        out.set(`${block}.attn.b_${part}`, takeRange(fusedBias, index * width, (index + 1) * width));
      });
      out.set(`${block}.attn.W_O`, await read(`${source}.attn.c_proj.weight`));
      out.set(`${block}.attn.b_O`, await read(`${source}.attn.c_proj.bias`));
      out.set(`${block}.ln2.w`, await read(`${source}.ln_2.weight`));
      out.set(`${block}.ln2.b`, await read(`${source}.ln_2.bias`));
      out.set(`${block}.mlp.W_in`, await read(`${source}.mlp.c_fc.weight`));
      out.set(`${block}.mlp.b_in`, await read(`${source}.mlp.c_fc.bias`));
      out.set(`${block}.mlp.W_out`, await read(`${source}.mlp.c_proj.weight`));
      out.set(`${block}.mlp.b_out`, await read(`${source}.mlp.c_proj.bias`));
    }
    out.set('ln_final.w', await read('ln_f.weight'));
    out.set('ln_final.b', await read('ln_f.bias'));
    if (!config.tiedEmbeddings) out.set('unembed.W_U', transpose2d(await weights.read('lm_head.weight')));
    return out;
  },
};

/**
 * The inverse of gpt2.convert: standard parameters to the tensors
 * `GPT2LMHeadModel.save_pretrained` writes (with the `transformer.` prefix),
 * and the matching config.json fields. Used to ship models trained here.
 */
export function gpt2ToHuggingFace(parameters: ReadonlyMap<string, FloatTensor>, config: TransformerConfig): Map<string, FloatTensor> {
  const out = new Map<string, FloatTensor>();
  const get = (name: string) => {
    const tensor = parameters.get(name);
    if (!tensor) throw new ConfigError(`gpt2ToHuggingFace: parameter '${name}' is missing.`);
    return tensor;
  };
  out.set('transformer.wte.weight', get('embed.W_E'));
  out.set('transformer.wpe.weight', get('pos_embed.W_pos'));
  const joinColumns = (parts: FloatTensor[]): FloatTensor => {
    const rows = parts[0].shape[0];
    const widths = parts.map((part) => part.shape[1]);
    const total = widths.reduce((sum, width) => sum + width, 0);
    const data = new Float32Array(rows * total);
    for (let row = 0; row < rows; row++) {
      let offset = 0;
      parts.forEach((part, index) => {
        data.set(part.data.subarray(row * widths[index], (row + 1) * widths[index]), row * total + offset);
        offset += widths[index];
      });
    }
    return { dtype: 'float32', shape: [rows, total], data };
  };
  const joinVectors = (parts: FloatTensor[]): FloatTensor => {
    const data = new Float32Array(parts.reduce((sum, part) => sum + part.data.length, 0));
    let offset = 0;
    for (const part of parts) {
      data.set(part.data, offset);
      offset += part.data.length;
    }
    return { dtype: 'float32', shape: [data.length], data };
  };
  for (let layer = 0; layer < config.layerCount; layer++) {
    const target = `transformer.h.${layer}`;
    const block = `blocks.${layer}`;
    out.set(`${target}.ln_1.weight`, get(`${block}.ln1.w`));
    out.set(`${target}.ln_1.bias`, get(`${block}.ln1.b`));
    out.set(`${target}.attn.c_attn.weight`, joinColumns(['Q', 'K', 'V'].map((part) => get(`${block}.attn.W_${part}`))));
    out.set(`${target}.attn.c_attn.bias`, joinVectors(['Q', 'K', 'V'].map((part) => get(`${block}.attn.b_${part}`))));
    out.set(`${target}.attn.c_proj.weight`, get(`${block}.attn.W_O`));
    out.set(`${target}.attn.c_proj.bias`, get(`${block}.attn.b_O`));
    out.set(`${target}.ln_2.weight`, get(`${block}.ln2.w`));
    out.set(`${target}.ln_2.bias`, get(`${block}.ln2.b`));
    out.set(`${target}.mlp.c_fc.weight`, get(`${block}.mlp.W_in`));
    out.set(`${target}.mlp.c_fc.bias`, get(`${block}.mlp.b_in`));
    out.set(`${target}.mlp.c_proj.weight`, get(`${block}.mlp.W_out`));
    out.set(`${target}.mlp.c_proj.bias`, get(`${block}.mlp.b_out`));
  }
  out.set('transformer.ln_f.weight', get('ln_final.w'));
  out.set('transformer.ln_f.bias', get('ln_final.b'));
  return out;
}

/** config.json for a GPT-2 model of this config, as transformers writes it. */
export function gpt2HuggingFaceConfig(config: TransformerConfig): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    activation_function: config.activation,
    n_layer: config.layerCount,
    n_embd: config.hiddenSize,
    n_head: config.headCount,
    n_inner: config.mlpSize,
    n_positions: config.contextLength,
    vocab_size: config.vocabSize,
    layer_norm_epsilon: config.normEpsilon,
    bos_token_id: config.bosTokenId ?? null,
    eos_token_id: config.eosTokenId ?? null,
    tie_word_embeddings: true,
    scale_attn_weights: true,
    scale_attn_by_inverse_layer_idx: false,
    reorder_and_upcast_attn: false,
    attn_pdrop: 0,
    embd_pdrop: 0,
    resid_pdrop: 0,
    initializer_range: 0.02,
    dtype: 'float32',
  };
}
