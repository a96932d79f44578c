import {
  add,
  cast,
  concat,
  DECOMPOSITION_SPECIFICATION_VERSION,
  defineDecomposition,
  div,
  GraphError,
  greater,
  hostTensor,
  matmul,
  minimum,
  mul,
  not,
  reduceMean,
  reduceSum,
  reshape,
  type KeptFeatures,
  Rng,
  ShapeError,
  slice,
  sub,
  tanh,
  transpose,
  unsqueeze,
  where,
  type ActivationPort,
  type Decomposition,
  type ForwardOutput,
  type Graph,
  type HostTensor,
  type Tensor,
  type TensorMap,
} from '@nnd/core';
import { parseMoltConfig, rankGroups, transformCount, type MoltConfig, type RankGroup } from './molt-config.js';
import { moltDecoderDirections } from './molt-decoder-directions.js';
import { batchTopKGate, jumpReluGate, keptShaped, topKGate, topKGateKept } from './molt-gates.js';
import { sparseMoltOutput } from './sparse-dispatch.js';
import { groupTransformNorms } from './transform-norms.js';

/** The streams a MOLT reads and writes when its config names none (library use without a model). */
export const DEFAULT_MOLT_INPUT = 'input';
export const DEFAULT_MOLT_OUTPUT = 'target';

/** Parameter names of one rank group's stacked factors: x @ V.{r}[t] @ U.{r}[t] is transform t's map. */
export const uName = (rank: number) => `U.${rank}`;
export const vName = (rank: number) => `V.${rank}`;

/**
 * Parameters one active transform of rank r brings into play: its factors
 * (r * d_in + r * d_out) and its encoder row (d_in); 2 r d + d when
 * d_in = d_out = d, the MOLT post's "feature-equivalent" cost less the gate bias.
 */
export function parametersPerActiveTransform(rank: number, dIn: number, dOut: number): number {
  return rank * (dIn + dOut) + dIn;
}

export interface Molt extends Decomposition<MoltConfig> {
  readonly architecture: 'molt';
  readonly groups: readonly RankGroup[];
  /** Number of transforms (the width of featureActs). */
  readonly transforms: number;
  readonly parameterNames: readonly string[];
  /** Each parameter's shape, without drawing it. */
  parameterShapes(): Record<string, number[]>;
  /** Without an argument, drawn from `new Rng(config.seed)`. */
  initialParams(rng?: Rng): Record<string, HostTensor>;
  /** Exact ||U_t V_t||_F for every transform, [transforms], from the Gram matrices of each group's factors. */
  transformNorms(params: TensorMap): Tensor;
  /** The MOLT's output and gates for x [rows, d_in] (no losses): what the Jacobian metric differentiates. */
  apply(x: Tensor, params: TensorMap): { output: Tensor; gates: Tensor; preactivations: Tensor };
}

function requireTensor(map: TensorMap, name: string, role: string): Tensor {
  const tensor = map[name];
  if (tensor === undefined) throw new GraphError(`molt: ${role} '${name}' missing; got {${Object.keys(map).join(', ')}}.`);
  return tensor;
}

function fill(size: number, value: number): Float32Array {
  return new Float32Array(size).fill(value);
}

/**
 * A sparse mixture of linear transforms (Lindsey et al. 2025):
 * MOLT(x) = sum_t phi_t(x) (x V_t) U_t + b_D, phi_t the gate of transform t on
 * the pre-activation x W_E[:, t] + b_E[t] (b_E is minus the post's b_t).
 * Transforms come in rank groups; a group's factors are stacked as
 * V.{r} [count, d_in, r] and U.{r} [count, r, d_out], and each group costs two
 * MatMuls over all of its transforms at once (x @ V viewed as [d_in, count r],
 * then the gated [rows, count r] @ U viewed as [count r, d_out]), never a
 * loop over transforms.
 */
export function createMolt(config: MoltConfig): Molt {
  const groups = rankGroups(config.rank_counts);
  const transforms = transformCount(config.rank_counts);
  const { d_in: dIn, d_out: dOut } = config;
  const inputHook = config.hook_point ?? DEFAULT_MOLT_INPUT;
  const outputHook = config.hook_point_out ?? DEFAULT_MOLT_OUTPUT;
  if (inputHook === outputHook) {
    throw new GraphError(`molt: hook_point and hook_point_out are both '${inputHook}'; a MOLT reads one stream (the MLP input) and writes another (the MLP output).`);
  }
  const reads: ActivationPort[] = [{ hook: inputHook, width: dIn }];
  const writes: ActivationPort[] = [{ hook: outputHook, width: dOut }];
  const parameterNames = ['W_E', 'b_E', 'b_D', ...groups.flatMap((group) => [vName(group.rank), uName(group.rank)]), ...(config.gate === 'jumprelu' ? ['log_threshold'] : [])];

  const gatesOf = (preactivations: Tensor, params: TensorMap): Tensor => {
    if (config.gate === 'topk') return topKGate(preactivations, config.top_k);
    if (config.gate === 'batchtopk') return batchTopKGate(preactivations, config.top_k);
    return jumpReluGate(preactivations, requireTensor(params, 'log_threshold', 'parameter'), config.bandwidth, config.jumprelu_surrogate);
  };

  const sparse = (config.dispatch ?? (config.gate === 'jumprelu' ? 'dense' : 'sparse')) === 'sparse';

  const groupGates = (gates: Tensor, group: RankGroup): Tensor => slice(gates, { starts: [group.offset], ends: [group.offset + group.count], axes: [1] });

  const apply = (x: Tensor, params: TensorMap, gating: (preactivations: Tensor) => Tensor = (preactivations) => gatesOf(preactivations, params)) => {
    if (x.rank !== 2 || x.shape[1] !== dIn) throw new ShapeError(`molt: the input must be [rows, ${dIn}] (d_in), got ${x}.`);
    const preactivations = add(matmul(x, requireTensor(params, 'W_E', 'parameter')), requireTensor(params, 'b_E', 'parameter'));
    const gates = gating(preactivations);
    let output = requireTensor(params, 'b_D', 'parameter');
    if (sparse) {
      const factors = groups.map((group) => ({ group, v: requireTensor(params, vName(group.rank), 'parameter'), u: requireTensor(params, uName(group.rank), 'parameter') }));
      return { output: add(output, sparseMoltOutput(x, gates, factors)), gates, preactivations };
    }
    for (const group of groups) {
      const { rank, count } = group;
      // One GEMM per factor and group: V.{r} [count, d_in, r] viewed as [d_in, count * r], U.{r} [count, r, d_out] as
      // [count * r, d_out]. The gates scale each transform's r columns in between, so no [count, rows, d_out]
      // intermediate is ever formed.
      const v = reshape(transpose(requireTensor(params, vName(rank), 'parameter'), [1, 0, 2]), [dIn, count * rank]);
      const u = reshape(requireTensor(params, uName(rank), 'parameter'), [count * rank, dOut]);
      const projected = reshape(matmul(x, v), [-1, count, rank]);
      const weighted = reshape(mul(projected, unsqueeze(groupGates(gates, group), 2)), [-1, count * rank]);
      output = add(output, matmul(weighted, u));
    }
    return { output, gates, preactivations };
  };

  const transformNorms = (params: TensorMap): Tensor => {
    const norms = groups.map((group) => groupTransformNorms(requireTensor(params, vName(group.rank), 'parameter'), requireTensor(params, uName(group.rank), 'parameter')));
    return norms.length === 1 ? norms[0] : concat(norms, 0);
  };

  return {
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    architecture: 'molt',
    config,
    reads,
    writes,
    groups,
    transforms,
    parameterNames,
    parameterShapes: () => ({
      W_E: [dIn, transforms],
      b_E: [transforms],
      b_D: [dOut],
      ...Object.fromEntries(
        groups.flatMap((group) => [
          [vName(group.rank), [group.count, dIn, group.rank]],
          [uName(group.rank), [group.count, group.rank, dOut]],
        ]),
      ),
      ...(config.gate === 'jumprelu' ? { log_threshold: [transforms] } : {}),
    }),
    transformNorms,
    apply,
    decoderDirections: (_graph, params) => ({ [outputHook]: moltDecoderDirections(groups, params, { u: uName, v: vName }) }),
    describe: () => [
      { key: 'architecture', value: 'molt' },
      { key: 'gate', value: config.gate },
      config.gate === 'jumprelu' ? { key: 'lambda', value: config.lambda } : { key: 'top_k', value: config.top_k },
      { key: 'transforms', value: transforms },
    ],
    // Sample by sample: the gate's own rule, a BatchTopK gate keeping its top_k per sample (it learns no threshold); with topK the k largest.
    inferOutputs(_graph, inputs, params, _state, options) {
      const x = inputs[inputHook];
      if (x === undefined) throw new GraphError(`molt inference: no input '${inputHook}' (got {${Object.keys(inputs).join(', ')}}).`);
      const k = options?.topK ?? (config.gate === 'jumprelu' ? undefined : config.top_k);
      const rows = x.rank === 2 ? x : reshape(x, [-1, dIn]);
      let kept: KeptFeatures | undefined;
      const { output, gates } = apply(
        rows,
        params,
        k === undefined
          ? undefined
          : (preactivations) => {
              const selected = topKGateKept(preactivations, Math.min(k, transforms));
              kept = selected.kept;
              return selected.gates;
            },
      );
      const keptFeatures = kept === undefined ? {} : { keptFeatures: x.rank === 2 ? kept : keptShaped(kept, x.shape.slice(0, -1)) };
      if (x.rank === 2) return { outputs: { [outputHook]: output }, featureActs: gates, ...keptFeatures };
      const leading = x.shape.slice(0, -1);
      return { outputs: { [outputHook]: reshape(output, [...leading, dOut]) }, featureActs: reshape(gates, [...leading, transforms]), ...keptFeatures };
    },
    inferenceOptions: ['topK'],
    forwardCouplesSamples: config.gate === 'batchtopk',
    // One group per rank, all of one module: an active transform of rank r writes the one MLP output through r (d_in + d_out) + d_in parameters.
    featureGroups: () =>
      groups.map((group) => ({
        label: outputHook,
        size: group.count,
        streamsWritten: 1,
        activeParameters: parametersPerActiveTransform(group.rank, dIn, dOut),
      })),
    initialParams(rng = new Rng(config.seed)) {
      const encoder = config.encoder_init === 'unit_norm' ? rng.normal(dIn * transforms) : rng.uniform(dIn * transforms, -1 / Math.sqrt(transforms), 1 / Math.sqrt(transforms));
      if (config.encoder_init === 'unit_norm') {
        // Encoder rows e_t (columns of W_E) of unit norm: every gate starts on the same scale.
        for (let t = 0; t < transforms; t++) {
          let squares = 0;
          for (let i = 0; i < dIn; i++) squares += encoder[i * transforms + t] ** 2;
          const norm = Math.sqrt(squares);
          for (let i = 0; i < dIn; i++) encoder[i * transforms + t] /= norm;
        }
      }
      const params: Record<string, HostTensor> = {
        W_E: hostTensor('float32', [dIn, transforms], encoder),
        b_E: hostTensor('float32', [transforms], fill(transforms, config.gate_bias_init ?? (config.gate === 'jumprelu' ? -1 : 0))),
        b_D: hostTensor('float32', [dOut], new Float32Array(dOut)),
      };
      for (const group of groups) {
        const { rank, count } = group;
        const draw = (size: number) =>
          config.uv_init !== 'uniform'
            ? // std (d r)^(-1/4) for both factors: x V U then has about the gain of x, and ||U V||_F about sqrt(d).
              rng.normal(size, 0, (dIn * rank) ** -0.25)
            : rng.uniform(size, -1 / Math.sqrt(transforms), 1 / Math.sqrt(transforms));
        params[vName(rank)] = hostTensor('float32', [count, dIn, rank], draw(count * dIn * rank));
        // 'zero_u': every transform starts writing 0 (LoRA's B = 0), so no gate is pushed shut before its map has learned anything.
        params[uName(rank)] = hostTensor('float32', [count, rank, dOut], config.uv_init === 'zero_u' ? new Float32Array(count * rank * dOut) : draw(count * rank * dOut));
      }
      if (config.gate === 'jumprelu') params.log_threshold = hostTensor('float32', [transforms], fill(transforms, Math.log(config.threshold_init)));
      return params;
    },
    initialState: () => ({
      num_batches_not_active: hostTensor('float32', [transforms], new Float32Array(transforms)),
      // Training steps taken so far: the forward pass has no step input, and lambda's warm-up needs one.
      steps: hostTensor('float32', [], [0]),
    }),
    forward(_graph: Graph, batch, params, state): ForwardOutput {
      const x = batch.inputs[inputHook];
      const y = batch.targets[outputHook];
      if (x === undefined || y === undefined) {
        throw new GraphError(
          `molt forward: the batch needs input '${inputHook}' and target '${outputHook}'; it has inputs {${Object.keys(batch.inputs).join(', ')}} and targets {${Object.keys(batch.targets).join(', ')}}.`,
        );
      }
      const counter = requireTensor(state, 'num_batches_not_active', 'state');
      const steps = requireTensor(state, 'steps', 'state');
      const { output, gates } = apply(x, params);
      const error = sub(output, y);
      const dtype = x.dtype;

      // lambda rises linearly over the first lambda_warmup_steps steps: step s (from 0) uses lambda * min(1, (s + 1) / warmup).
      const warmup = config.lambda_warmup_steps;
      const lambda = warmup > 0 ? mul(minimum(div(add(cast(steps, dtype), 1), warmup), 1), config.lambda) : x.graph.scalar(config.lambda, dtype);
      const scaled = mul(gates, transformNorms(params));
      const penalty = config.sparsity_penalty === 'tanh' ? tanh(mul(scaled, config.tanh_c)) : scaled;
      const sparsityLoss = config.lambda === 0 ? x.graph.scalar(0, dtype) : mul(reduceMean(reduceSum(penalty, -1)), lambda);

      const active = cast(greater(gates, 0), dtype);
      const metrics: Record<string, Tensor> = {
        l0_norm: reduceMean(reduceSum(active, -1)),
        l1_norm: reduceMean(reduceSum(gates, -1)),
        lambda: cast(lambda, dtype),
      };
      let activeParameters: Tensor = x.graph.scalar(0, dtype);
      for (const group of groups) {
        const l0 = reduceMean(reduceSum(groupGates(active, group), -1));
        metrics[`l0_norm/rank_${group.rank}`] = l0;
        activeParameters = add(activeParameters, mul(l0, parametersPerActiveTransform(group.rank, dIn, dOut)));
      }
      metrics.active_parameters = activeParameters;

      // The SAEs' dead-feature counters: a transform that was not active in the batch adds 1, else resets to 0.
      const fired = greater(reduceSum(gates, 0), 0);
      const nextCounter = where(fired, 0, add(counter, 1));
      metrics.num_dead_features = reduceSum(cast(greater(nextCounter, config.n_batches_to_dead), dtype));
      metrics.n_dead_in_batch = reduceSum(cast(not(fired), dtype));

      return {
        outputs: { [outputHook]: output },
        featureActs: gates,
        losses: { l2_loss: reduceMean(mul(error, error)), sparsity_loss: sparsityLoss },
        metrics,
        nextState: { num_batches_not_active: nextCounter, steps: add(steps, 1) },
      };
    },
  };
}

export const molt = {
  ...defineDecomposition<MoltConfig>({ architecture: 'molt', parseConfig: parseMoltConfig, create: createMolt }),
};

/** Parses a raw config (defaults filled in) and builds the MOLT. */
export function createMoltFromConfig(config: unknown): Molt {
  return createMolt(parseMoltConfig(config));
}
