/** Non-linearities of the MLP, by their Hugging Face names. */
export type Activation = 'gelu_new' | 'gelu' | 'relu' | 'silu';

/**
 * The architecture-independent description of a decoder-only transformer
 * that the graph builder reads. Converters derive it from a Hugging Face
 * `config.json`; field names follow TransformerLens' config where it has one
 * (`n_layers` is `layerCount`, `d_model` is `hiddenSize`, ...).
 */
export interface TransformerConfig {
  /** The Hugging Face `model_type` the weights came from (`gpt2`, `gpt_neox`, `llama`). */
  readonly modelType: string;
  readonly layerCount: number;
  /** Width of the residual stream (TransformerLens `d_model`). */
  readonly hiddenSize: number;
  readonly headCount: number;
  /** Key/value heads; fewer than `headCount` means grouped-query attention. */
  readonly keyValueHeadCount: number;
  /** Width of one attention head (TransformerLens `d_head`). */
  readonly headSize: number;
  /** Hidden width of the MLP (TransformerLens `d_mlp`). */
  readonly mlpSize: number;
  readonly vocabSize: number;
  /** Longest sequence the position embeddings or rotary tables cover (TransformerLens `n_ctx`). */
  readonly contextLength: number;
  readonly normalization: 'layerNorm' | 'rmsNorm';
  readonly normEpsilon: number;
  readonly activation: Activation;
  /** Learned absolute position embeddings (GPT-2) or rotary embeddings on queries and keys. */
  readonly positional: 'learned' | 'rotary';
  /** Leading dimensions of each head that rotary embeddings rotate (all of `headSize` unless partial). */
  readonly rotaryDim: number;
  /** Rotary base frequency (Hugging Face `rope_theta`). */
  readonly rotaryBase: number;
  /** Attention and MLP read the same residual and both add to it (GPT-NeoX `use_parallel_residual`). */
  readonly parallelResidual: boolean;
  /** SwiGLU-style MLP: activation(x W_gate) * (x W_in) (Llama). */
  readonly gatedMlp: boolean;
  /** The unembedding is the transposed token embedding; no `unembed.W_U` is stored. */
  readonly tiedEmbeddings: boolean;
  /** Whether the query/key/value and output projections have biases (`b_Q`, `b_K`, `b_V`, `b_O`). */
  readonly attentionBias: boolean;
  /** Whether the MLP projections have biases (`b_in`, `b_out`). */
  readonly mlpBias: boolean;
  readonly bosTokenId?: number;
  readonly eosTokenId?: number;
}
