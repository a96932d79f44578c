import {
  ConfigError,
  GraphError,
  ShapeError,
  add,
  axisSize,
  crossEntropy,
  dimsEqual,
  expand,
  formatShape,
  gather,
  layerNorm,
  lessOrEqual,
  matmul,
  mul,
  range,
  reshape,
  rmsNorm,
  slice,
  softmax,
  transpose,
  unsqueeze,
  where,
  type Graph,
  type Tensor,
} from '@nnd/core';
import { mlpGraph } from './mlp-graph.js';
import { hookName, hookPointNames, hookShape, locateHook } from './hook-points.js';
import { parameterShapes } from './parameter-shapes.js';
import { ROTARY_COS, ROTARY_SIN, applyRotary } from './rotary.js';
import type { TransformerConfig } from './transformer-config.js';

/**
 * What replaces a hook's value: `'input'` makes it a graph input named by the
 * hook (fed at run time: an SAE's reconstruction computed elsewhere, a
 * cached activation), a function computes the new value from the old one in
 * the same graph (zero or mean ablation, an SAE spliced in).
 */
export type HookReplacement = 'input' | ((graph: Graph, value: Tensor) => Tensor);

export type ReturnType = 'logits' | 'loss' | 'both' | 'none';

/**
 * What computes a weight matrix's product in place of `x @ weight`: it gets
 * the matrix's input x [batch, seq, d_in] and its weight [d_in, d_out], and
 * returns [batch, seq, d_out] (the bias, if any, is still added after it).
 * A decomposition of the weight (rank-one components with masks) is spliced
 * in this way, seeing the module's input, which a hook replacement does not.
 */
export type MatrixProduct = (x: Tensor, weight: Tensor) => Tensor;

/** The weight matrices whose product `ForwardOptions.products` can replace, each [d_in, d_out] as the graph multiplies by it. */
export function weightMatrices(config: TransformerConfig): Map<string, { dIn: number; dOut: number }> {
  const matrices = new Map<string, { dIn: number; dOut: number }>();
  for (const [name, shape] of parameterShapes(config)) {
    if (/^blocks\.\d+\.(attn\.W_[QKVO]|mlp\.W_(in|gate|out))$/.test(name)) matrices.set(name, { dIn: shape[0], dOut: shape[1] });
  }
  return matrices;
}

export interface ForwardOptions {
  /**
   * Run blocks 0..stopAtLayer-1 only (TransformerLens' `stop_at_layer`); the
   * residual then is `blocks.{stopAtLayer}.hook_resid_pre`. Needs
   * returnType 'none'. When omitted with returnType 'none', the blocks the
   * requested outputs need are built and no others.
   */
  stopAtLayer?: number;
  /** Hook names whose values the result exposes (after any replacement). */
  outputs?: readonly string[];
  replace?: Readonly<Record<string, HookReplacement>>;
  /** Default 'logits'; 'loss' is the mean next-token cross-entropy. */
  returnType?: ReturnType;
  /** Weight matrices (names from `weightMatrices`, e.g. `blocks.0.mlp.W_in`) whose product is computed by the given function. */
  products?: Readonly<Record<string, MatrixProduct>>;
  /**
   * Tensors to use for weights instead of graph inputs named by the weights'
   * names (e.g. a training step's frozen inputs); weights left out are graph inputs as usual.
   */
  weights?: Readonly<Record<string, Tensor>>;
}

export interface ForwardResult {
  logits?: Tensor;
  /** Scalar mean cross-entropy of logits[:, :-1] against tokens[:, 1:]. */
  loss?: Tensor;
  /** The residual stream after the last block built (= `ln_final` input, or `blocks.{stopAtLayer}.hook_resid_pre`). */
  residual: Tensor;
  /** The requested hook values by name. */
  hooks: Record<string, Tensor>;
  /** The graph inputs for weights and rotary tables this graph reads, by name. */
  parameters: Map<string, Tensor>;
}

/** Fill for masked attention scores, as Hugging Face: the most negative float32. */
const MASK_FILL = -3.4028234663852886e38;

/** Resolves the options into the last block to build, checking every hook name. */
export function planForward(config: TransformerConfig, options: ForwardOptions, validNames: ReadonlySet<string>): { stop: number; returnType: ReturnType } {
  const returnType = options.returnType ?? (options.stopAtLayer === undefined ? 'logits' : 'none');
  if (!['logits', 'loss', 'both', 'none'].includes(returnType)) {
    throw new ConfigError(`returnType '${returnType}' is not one of 'logits', 'loss', 'both', 'none'.`);
  }
  const outputs = (options.outputs ?? []).map((name) => locateHook(name, config, validNames));
  for (const name of Object.keys(options.replace ?? {})) locateHook(name, config, validNames);
  const { stopAtLayer } = options;
  if (stopAtLayer !== undefined) {
    if (!Number.isInteger(stopAtLayer) || stopAtLayer < 0 || stopAtLayer > config.layerCount) {
      throw new ConfigError(`stopAtLayer must be an integer in [0, ${config.layerCount}], got ${stopAtLayer}.`);
    }
    if (returnType !== 'none' && stopAtLayer < config.layerCount) {
      throw new ConfigError(`stopAtLayer ${stopAtLayer} builds no logits; pass returnType 'none' and read hooks or the residual.`);
    }
  }
  // Block L's hooks need blocks 0..L; blocks.L.hook_resid_pre and ln_final (layer = layerCount) need 0..L-1.
  const needs = (name: string, layer: number) => (name.endsWith('.hook_resid_pre') || layer === config.layerCount ? layer : layer + 1);
  let stop = stopAtLayer ?? (returnType === 'none' ? Math.max(0, ...outputs.map(({ name, layer }) => needs(name, layer))) : config.layerCount);
  stop = Math.min(stop, config.layerCount);
  for (const { name, layer } of outputs) {
    if (needs(name, layer) > stop) {
      throw new ConfigError(`Hook '${name}' needs blocks 0..${needs(name, layer) - 1}, but stopAtLayer ${stop} builds blocks 0..${stop - 1} only; raise stopAtLayer or drop the hook.`);
    }
  }
  return { stop, returnType };
}

/**
 * Appends the forward pass of a decoder-only transformer to `graph`.
 * `tokens` is an int64 [batch, seq] tensor (symbolic dims allowed). Weights
 * are graph inputs named by their standard names (see parameterShapes) and
 * reused when the graph already has them, so one graph can hold several
 * passes (clean and ablated) over the same weights.
 */
export function buildTransformerGraph(graph: Graph, tokens: Tensor, config: TransformerConfig, options: ForwardOptions = {}): ForwardResult {
  if (tokens.graph !== graph) throw new GraphError('buildGraph: tokens belong to another graph.');
  if (tokens.dtype !== 'int64' || tokens.rank !== 2) {
    throw new ShapeError(`buildGraph: tokens must be int64 [batch, seq], got ${tokens.dtype} ${formatShape(tokens.shape)}.`);
  }
  const validNames = new Set(hookPointNames(config));
  const { stop, returnType } = planForward(config, options, validNames);
  const [batch, seq] = tokens.shape;
  const shapes = parameterShapes(config);
  const parameters = new Map<string, Tensor>();
  const products = options.products ?? {};
  const matrices = weightMatrices(config);
  for (const name of Object.keys(products)) {
    if (!matrices.has(name)) {
      throw new ConfigError(`products: '${name}' is not a weight matrix of this model; its matrices are ${[...matrices.keys()].slice(0, 8).join(', ')}${matrices.size > 8 ? ', ...' : ''}.`);
    }
  }
  const parameter = (name: string, shape: readonly number[] = shapes.get(name)!): Tensor => {
    const given = options.weights?.[name];
    if (given !== undefined) {
      if (given.graph !== graph || !(given.rank === shape.length && given.shape.every((dim, i) => dimsEqual(dim, shape[i])))) {
        throw new ShapeError(
          `buildGraph: the weight given for '${name}' is ${formatShape(given.shape)}${given.graph !== graph ? ' in another graph' : ''}; this model's '${name}' is ${formatShape(shape)} in this graph.`,
        );
      }
      parameters.set(name, given);
      return given;
    }
    const existing = graph.inputs.get(name);
    const tensor = existing ?? graph.input(name, shape);
    if (existing && !(existing.rank === shape.length && existing.shape.every((dim, i) => dimsEqual(dim, shape[i])))) {
      throw new ShapeError(`buildGraph: the graph already has an input '${name}' of shape ${formatShape(existing.shape)}, but this model's '${name}' is ${formatShape(shape)}.`);
    }
    parameters.set(name, tensor);
    return tensor;
  };
  const optional = (name: string) => (shapes.has(name) ? parameter(name) : undefined);
  const product = (x: Tensor, weight: string) => {
    const replacement = products[weight];
    const matrix = parameter(weight);
    if (replacement === undefined) return matmul(x, matrix);
    const result = replacement(x, matrix);
    const want = [...x.shape.slice(0, -1), matrix.shape[1]];
    if (result.rank !== want.length || !result.shape.every((dim, i) => dimsEqual(dim, want[i]))) {
      throw new ShapeError(`The product replacing '${weight}' is ${formatShape(result.shape)}; it must be ${formatShape(want)} like x @ ${weight}.`);
    }
    return result;
  };
  const linear = (x: Tensor, weight: string, bias: string) => {
    const product_ = product(x, weight);
    const b = optional(bias);
    return b ? add(product_, b) : product_;
  };

  const replace = options.replace ?? {};
  const wanted = new Set(options.outputs ?? []);
  const hooks: Record<string, Tensor> = {};
  const hook = (name: string, value: Tensor): Tensor => {
    let result = value;
    const replacement = replace[name];
    if (replacement === 'input') {
      result = graph.inputs.get(name) ?? graph.input(name, hookShape(name, config, batch, seq), value.dtype);
    } else if (replacement !== undefined) {
      result = replacement(graph, value);
    }
    if (result.dtype !== value.dtype || result.rank !== value.rank || !result.shape.every((dim, i) => dimsEqual(dim, value.shape[i]))) {
      throw new ShapeError(`Replacement for hook '${name}' is ${result.dtype} ${formatShape(result.shape)}; it must match the hook's ${value.dtype} ${formatShape(value.shape)}.`);
    }
    if (wanted.has(name)) hooks[name] = result;
    return result;
  };
  const normalize = (x: Tensor, prefix: string) =>
    config.normalization === 'layerNorm' ? layerNorm(x, parameter(`${prefix}.w`), optional(`${prefix}.b`), { epsilon: config.normEpsilon }) : rmsNorm(x, parameter(`${prefix}.w`), config.normEpsilon);

  // Embeddings.
  let residual = hook(hookName('embed'), gather(parameter('embed.W_E'), tokens, 0));
  if (config.positional === 'learned') {
    const positions = slice(parameter('pos_embed.W_pos'), { starts: [0], ends: [seq], axes: [0] });
    const positionEmbedding = hook(hookName('pos_embed'), expand(unsqueeze(positions, 0), [batch, seq, config.hiddenSize]));
    residual = add(residual, positionEmbedding);
  }

  // Shared by every block: the causal mask (key position <= query position) and rotary tables for this length.
  let mask: Tensor | undefined;
  let rotary: { cos: Tensor; sin: Tensor } | undefined;
  if (stop > 0) {
    const length = typeof seq === 'number' ? seq : axisSize(tokens, 1, 'int64');
    const positions = range(0, length, 1, { graph, dtype: 'int64', length: seq });
    mask = lessOrEqual(unsqueeze(positions, 0), unsqueeze(positions, 1));
    if (config.positional === 'rotary') {
      const table = (name: string) => slice(parameter(name, [config.contextLength, config.rotaryDim]), { starts: [0], ends: [seq], axes: [0] });
      rotary = { cos: table(ROTARY_COS), sin: table(ROTARY_SIN) };
    }
  }

  const attention = (x: Tensor, layer: number): Tensor => {
    const prefix = `blocks.${layer}.attn`;
    const { headCount, keyValueHeadCount, headSize } = config;
    const heads = (projection: Tensor, count: number) => reshape(projection, [batch, seq, count, headSize]);
    let q = hook(hookName('q', layer), heads(linear(x, `${prefix}.W_Q`, `${prefix}.b_Q`), headCount));
    let k = hook(hookName('k', layer), heads(linear(x, `${prefix}.W_K`, `${prefix}.b_K`), keyValueHeadCount));
    let v = hook(hookName('v', layer), heads(linear(x, `${prefix}.W_V`, `${prefix}.b_V`), keyValueHeadCount));
    if (rotary) {
      q = hook(hookName('rot_q', layer), applyRotary(q, rotary.cos, rotary.sin, config.rotaryDim));
      k = hook(hookName('rot_k', layer), applyRotary(k, rotary.cos, rotary.sin, config.rotaryDim));
    }
    if (keyValueHeadCount !== headCount) {
      // Grouped-query attention: query head h reads key/value head h / group (PyTorch's repeat_interleave).
      const group = headCount / keyValueHeadCount;
      const repeat = (t: Tensor) => reshape(expand(unsqueeze(t, 3), [batch, seq, keyValueHeadCount, group, headSize]), [batch, seq, headCount, headSize]);
      k = repeat(k);
      v = repeat(v);
    }
    const scores = mul(matmul(transpose(q, [0, 2, 1, 3]), transpose(k, [0, 2, 3, 1])), 1 / Math.sqrt(headSize));
    const masked = hook(hookName('attn_scores', layer), where(mask!, scores, MASK_FILL));
    const pattern = hook(hookName('pattern', layer), softmax(masked, -1));
    const z = hook(hookName('z', layer), transpose(matmul(pattern, transpose(v, [0, 2, 1, 3])), [0, 2, 1, 3]));
    return linear(reshape(z, [batch, seq, headCount * headSize]), `${prefix}.W_O`, `${prefix}.b_O`);
  };

  const mlp = (x: Tensor, layer: number): Tensor => mlpGraph(x, config, layer, { product, bias: optional, hook });

  for (let layer = 0; layer < stop; layer++) {
    const block = `blocks.${layer}`;
    residual = hook(hookName('resid_pre', layer), residual);
    const attentionOut = hook(hookName('attn_out', layer), attention(hook(hookName('ln1', layer), normalize(residual, `${block}.ln1`)), layer));
    if (config.parallelResidual) {
      const mlpOut = hook(hookName('mlp_out', layer), mlp(hook(hookName('ln2', layer), normalize(residual, `${block}.ln2`)), layer));
      residual = add(add(mlpOut, attentionOut), residual);
    } else {
      const middle = hook(hookName('resid_mid', layer), add(residual, attentionOut));
      const mlpOut = hook(hookName('mlp_out', layer), mlp(hook(hookName('ln2', layer), normalize(middle, `${block}.ln2`)), layer));
      residual = add(middle, mlpOut);
    }
    residual = hook(hookName('resid_post', layer), residual);
  }
  if (stop < config.layerCount) {
    // The residual after block stop-1 is the next block's input; expose it under that name too.
    const next = hookName('resid_pre', stop);
    residual = hook(next, residual);
    return { residual, hooks, parameters };
  }

  const result: ForwardResult = { residual, hooks, parameters };
  const wantsFinal = returnType !== 'none' || wanted.has(hookName('ln_final')) || hookName('ln_final') in replace;
  if (!wantsFinal) return result;
  const normalized = hook(hookName('ln_final'), normalize(residual, 'ln_final'));
  if (returnType === 'none') return result;
  const unembedding = config.tiedEmbeddings ? transpose(parameter('embed.W_E'), [1, 0]) : parameter('unembed.W_U');
  const logits = matmul(normalized, unembedding);
  if (returnType === 'logits' || returnType === 'both') result.logits = logits;
  if (returnType === 'loss' || returnType === 'both') {
    const predictions = slice(logits, { starts: [0], ends: [-1], axes: [1] });
    const targets = slice(tokens, { starts: [1], ends: [Infinity], axes: [1] });
    result.loss = crossEntropy(predictions, targets);
  }
  return result;
}
