import type { TransformerConfig } from './transformer-config.js';

/**
 * Every parameter a model of this config has, under its standard name, with
 * its shape. Names follow TransformerLens (`blocks.0.attn.W_Q`); shapes are
 * the layouts the graph multiplies by, so no transpose runs per forward pass:
 *
 * | name | shape |
 * |---|---|
 * | `embed.W_E` | [d_vocab, d_model] |
 * | `pos_embed.W_pos` (learned positions) | [n_ctx, d_model] |
 * | `blocks.{L}.ln1.w`, `.ln1.b`, `.ln2.w`, `.ln2.b` (b: LayerNorm only) | [d_model] |
 * | `blocks.{L}.attn.W_Q` | [d_model, n_heads * d_head] (TransformerLens' [n_heads, d_model, d_head], heads side by side) |
 * | `blocks.{L}.attn.W_K`, `.W_V` | [d_model, n_key_value_heads * d_head] |
 * | `blocks.{L}.attn.b_Q`; `.b_K`, `.b_V` | [n_heads * d_head]; [n_key_value_heads * d_head] |
 * | `blocks.{L}.attn.W_O`; `.b_O` | [n_heads * d_head, d_model]; [d_model] |
 * | `blocks.{L}.mlp.W_in`, `.W_gate` (gated MLP); `.b_in` | [d_model, d_mlp]; [d_mlp] |
 * | `blocks.{L}.mlp.W_out`; `.b_out` | [d_mlp, d_model]; [d_model] |
 * | `ln_final.w`, `ln_final.b` | [d_model] |
 * | `unembed.W_U` (untied embeddings only) | [d_model, d_vocab] |
 */
export function parameterShapes(config: TransformerConfig): Map<string, number[]> {
  const { hiddenSize, headCount, keyValueHeadCount, headSize, mlpSize, vocabSize } = config;
  const shapes = new Map<string, number[]>();
  const norm = (prefix: string) => {
    shapes.set(`${prefix}.w`, [hiddenSize]);
    if (config.normalization === 'layerNorm') shapes.set(`${prefix}.b`, [hiddenSize]);
  };
  shapes.set('embed.W_E', [vocabSize, hiddenSize]);
  if (config.positional === 'learned') shapes.set('pos_embed.W_pos', [config.contextLength, hiddenSize]);
  for (let layer = 0; layer < config.layerCount; layer++) {
    const block = `blocks.${layer}`;
    norm(`${block}.ln1`);
    shapes.set(`${block}.attn.W_Q`, [hiddenSize, headCount * headSize]);
    shapes.set(`${block}.attn.W_K`, [hiddenSize, keyValueHeadCount * headSize]);
    shapes.set(`${block}.attn.W_V`, [hiddenSize, keyValueHeadCount * headSize]);
    shapes.set(`${block}.attn.W_O`, [headCount * headSize, hiddenSize]);
    if (config.attentionBias) {
      shapes.set(`${block}.attn.b_Q`, [headCount * headSize]);
      shapes.set(`${block}.attn.b_K`, [keyValueHeadCount * headSize]);
      shapes.set(`${block}.attn.b_V`, [keyValueHeadCount * headSize]);
      shapes.set(`${block}.attn.b_O`, [hiddenSize]);
    }
    norm(`${block}.ln2`);
    shapes.set(`${block}.mlp.W_in`, [hiddenSize, mlpSize]);
    if (config.gatedMlp) shapes.set(`${block}.mlp.W_gate`, [hiddenSize, mlpSize]);
    shapes.set(`${block}.mlp.W_out`, [mlpSize, hiddenSize]);
    if (config.mlpBias) {
      shapes.set(`${block}.mlp.b_in`, [mlpSize]);
      shapes.set(`${block}.mlp.b_out`, [hiddenSize]);
    }
  }
  norm('ln_final');
  if (!config.tiedEmbeddings) shapes.set('unembed.W_U', [hiddenSize, vocabSize]);
  return shapes;
}
