import {
  add,
  ConfigError,
  erf,
  geluTanh,
  Graph,
  grad,
  hostTensor,
  matmul,
  mul,
  relu,
  sigmoid,
  ShapeError,
  zeros,
  type Backend,
  type Decomposition,
  type HostTensor,
  type Tensor,
  type TensorMap,
} from '@nnd/core';

export type MlpActivation = 'gelu_new' | 'gelu' | 'relu' | 'silu';

/** An MLP layer: (act(x W_gate) * (x W_in + b_in) if gated, else act(x W_in + b_in)) W_out + b_out, as @nnd/models builds it. */
export interface MlpWeights {
  readonly W_in: HostTensor;
  readonly b_in?: HostTensor;
  readonly W_gate?: HostTensor;
  readonly W_out: HostTensor;
  readonly b_out?: HostTensor;
  readonly activation: MlpActivation;
}

/** What `mlpOfLayer` needs of a model: @nnd/models' HookedTransformer has it. */
export interface ModelWithMlps {
  readonly config: { readonly activation: MlpActivation; readonly gatedMlp: boolean; readonly mlpBias: boolean };
  parameter(name: string): HostTensor;
}

/** The MLP of block `layer`, from the model's weights (`blocks.{layer}.mlp.*`). */
export function mlpOfLayer(model: ModelWithMlps, layer: number): MlpWeights {
  const weight = (name: string) => model.parameter(`blocks.${layer}.mlp.${name}`);
  const { activation, gatedMlp, mlpBias } = model.config;
  return {
    W_in: weight('W_in'),
    W_out: weight('W_out'),
    activation,
    ...(gatedMlp ? { W_gate: weight('W_gate') } : {}),
    ...(mlpBias ? { b_in: weight('b_in'), b_out: weight('b_out') } : {}),
  };
}

const ACTIVATIONS: Readonly<Record<MlpActivation, (x: Tensor) => Tensor>> = {
  gelu_new: geluTanh,
  gelu: (x) => mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1)),
  relu,
  silu: (x) => mul(x, sigmoid(x)),
};

/** The MLP applied to x [rows, d_model], weights given as graph tensors keyed like MlpWeights. */
export function applyMlp(x: Tensor, weights: TensorMap, activation: MlpActivation): Tensor {
  const act = ACTIVATIONS[activation];
  const linear = weights.b_in ? add(matmul(x, weights.W_in), weights.b_in) : matmul(x, weights.W_in);
  const hidden = weights.W_gate ? mul(act(matmul(x, weights.W_gate)), linear) : act(linear);
  const out = matmul(hidden, weights.W_out);
  return weights.b_out ? add(out, weights.b_out) : out;
}

export interface JacobianFaithfulnessOptions {
  /** Any decomposition with one read and one written stream whose output is a differentiable function of its input. */
  readonly decomposition: Decomposition;
  readonly params: Record<string, HostTensor>;
  readonly state: Record<string, HostTensor>;
  readonly mlp: MlpWeights;
  /** [tokens, d_in] float32: the MLP inputs (e.g. blocks.L.ln2.hook_normalized) to measure at. */
  readonly inputs: HostTensor;
  readonly backend: Backend;
  /** Tokens per program run; each costs d_out rows of forward and backward. Default: about 4096 rows per run. */
  readonly tokensPerRun?: number;
}

export interface JacobianFaithfulness {
  /** Mean over tokens of the cosine similarity of the flattened Jacobians d(output)/d(input). */
  readonly mean: number;
  readonly perToken: readonly number[];
}

/**
 * Jacobian faithfulness (the MOLT post; §7 of the reference's exp_008): for
 * each token, the cosine similarity between the flattened [d_out, d_in]
 * Jacobian of the decomposition's output and that of the MLP, averaged
 * over tokens. Transcoder Jacobians have rank <= L0; MOLT Jacobians need not.
 *
 * Computed in the IR with core's `grad`: each token is repeated d_out times
 * and one backward pass with a one-hot cotangent per copy gives every row of
 * every token's Jacobian at once. The cost is a forward and a backward pass of
 * both the decomposition and the MLP over d_out x tokens rows (d_out = 768: 768
 * rows per token), so measure a few hundred tokens, not a dataset.
 *
 * The derivative is whatever the decomposition's autodiff gives: for a MOLT
 * with a JumpReLU gate pass it with `jumprelu_surrogate: 'rectangle'`, whose
 * gradient is the exact one almost everywhere (the sigmoid surrogate is not).
 * Batch-coupled gates (BatchTopK) are measured on the kept set of the
 * repeated batch.
 */
export async function jacobianFaithfulness(options: JacobianFaithfulnessOptions): Promise<JacobianFaithfulness> {
  const { decomposition, params, state, mlp, inputs, backend } = options;
  if (decomposition.reads.length !== 1 || decomposition.writes.length !== 1) {
    throw new ConfigError(
      `jacobianFaithfulness: decomposition '${decomposition.architecture}' reads ${decomposition.reads.length} and writes ${decomposition.writes.length} streams; it needs one of each (an MLP's input and output).`,
    );
  }
  const [{ hook: inHook, width: dIn }] = decomposition.reads;
  const [{ hook: outHook, width: dOut }] = decomposition.writes;
  if (inputs.shape.length !== 2 || inputs.shape[1] !== dIn) {
    throw new ShapeError(`jacobianFaithfulness: inputs must be [tokens, ${dIn}] (the width of ${inHook}), got [${inputs.shape.join(', ')}].`);
  }
  if (mlp.W_in.shape[0] !== dIn || mlp.W_out.shape[1] !== dOut) {
    throw new ShapeError(`jacobianFaithfulness: the MLP maps ${mlp.W_in.shape[0]} -> ${mlp.W_out.shape[1]}, the decomposition ${dIn} -> ${dOut}.`);
  }
  const tokens = inputs.shape[0];
  const chunk = Math.max(1, Math.min(tokens, options.tokensPerRun ?? Math.floor(4096 / dOut)));
  const rows = chunk * dOut;

  const graph = new Graph();
  // Row o * chunk + i is token i, copy o; its cotangent is the unit vector e_o, so its gradient is row o of token i's Jacobian.
  const x = graph.input('x', [rows, dIn]);
  const feedParams: TensorMap = {};
  for (const [name, tensor] of Object.entries(params)) feedParams[name] = graph.input(`param.${name}`, tensor.shape, tensor.dtype);
  const feedState: TensorMap = {};
  for (const [name, tensor] of Object.entries(state)) feedState[name] = graph.input(`state.${name}`, tensor.shape, tensor.dtype);
  const mlpWeights: TensorMap = {};
  const mlpFeeds: Record<string, HostTensor> = {};
  for (const name of ['W_in', 'b_in', 'W_gate', 'W_out', 'b_out'] as const) {
    const tensor = mlp[name];
    if (tensor === undefined) continue;
    mlpWeights[name] = graph.input(`mlp.${name}`, tensor.shape, tensor.dtype);
    mlpFeeds[`mlp.${name}`] = tensor;
  }
  const forward = decomposition.forward(graph, { inputs: { [inHook]: x }, targets: { [outHook]: zeros(graph, [rows, dOut], 'float32') } }, feedParams, feedState);
  const decomposed = forward.outputs[outHook];
  const original = applyMlp(x, mlpWeights, mlp.activation);
  const oneHot = new Float32Array(rows * dOut);
  for (let copy = 0; copy < dOut; copy++) for (let token = 0; token < chunk; token++) oneHot[(copy * chunk + token) * dOut + copy] = 1;
  const cotangent = graph.constant(hostTensor('float32', [rows, dOut], oneHot));
  const [decomposedRows] = grad(decomposed, [x], { cotangent });
  const [originalRows] = grad(original, [x], { cotangent });
  const program = await backend.compile(graph, { outputs: { decomposed: decomposedRows, original: originalRows }, hostOutputs: ['decomposed', 'original'] });

  const perToken: number[] = [];
  const source = inputs.data as Float32Array;
  try {
    for (let start = 0; start < tokens; start += chunk) {
      const count = Math.min(chunk, tokens - start);
      const repeated = new Float32Array(rows * dIn);
      for (let copy = 0; copy < dOut; copy++) {
        for (let token = 0; token < chunk; token++) {
          // A short last chunk is padded with its first token; those rows are not read back.
          const from = start + (token < count ? token : 0);
          repeated.set(source.subarray(from * dIn, (from + 1) * dIn), (copy * chunk + token) * dIn);
        }
      }
      const feeds: Record<string, HostTensor> = { x: hostTensor('float32', [rows, dIn], repeated), ...mlpFeeds };
      for (const [name, tensor] of Object.entries(params)) feeds[`param.${name}`] = tensor;
      for (const [name, tensor] of Object.entries(state)) feeds[`state.${name}`] = tensor;
      const result = await program.run(feeds);
      const a = (await result.decomposed.toHost()).data as Float32Array;
      const b = (await result.original.toHost()).data as Float32Array;
      for (const tensor of Object.values(result)) tensor.dispose();
      for (let token = 0; token < count; token++) {
        let dot = 0;
        let aa = 0;
        let bb = 0;
        for (let copy = 0; copy < dOut; copy++) {
          const offset = (copy * chunk + token) * dIn;
          for (let i = 0; i < dIn; i++) {
            const p = a[offset + i];
            const q = b[offset + i];
            dot += p * q;
            aa += p * p;
            bb += q * q;
          }
        }
        perToken.push(aa === 0 || bb === 0 ? 0 : dot / Math.sqrt(aa * bb));
      }
    }
  } finally {
    await program.dispose();
  }
  return { mean: perToken.reduce((total, value) => total + value, 0) / perToken.length, perToken };
}
