import { moduleLabel } from './module-label.js';
import {
  add,
  cast,
  concat,
  ConfigError,
  DECOMPOSITION_SPECIFICATION_VERSION,
  div,
  exp,
  grad,
  greater,
  hostTensor,
  lessOrEqual,
  log,
  logSoftmax,
  matmul,
  maximum,
  minimum,
  mul,
  pow,
  reduceMean,
  reduceSum,
  reshape,
  sign,
  slice,
  stopGradient,
  sub,
  transpose,
  unsqueeze,
  where,
  type Decomposition,
  type ForwardOutput,
  type GradientGroup,
  type Graph,
  type HostTensor,
  type Rng,
  type Tensor,
  type TensorMap,
} from '@nnd/core';
import { ciFunction, initialCiParams } from './ci-functions.js';
import { faithfulnessWarmup } from './faithfulness-warmup.js';
import { describeMatrixNames } from './matrix-names.js';
import { lowerLeakyHardSigmoid, upperLeakyHardSigmoid } from './sigmoids.js';
import { parseSpdConfig, type SpdConfig } from './spd-config.js';
import { spdDashboardValues } from './spd-dashboard-values.js';
import { spdMlpReplacements } from './spd-mlp-replacement.js';
import { SpdModelError } from './spd-model-error.js';
import type { MatrixProduct, SpdTarget, TargetMatrix } from './spd-target.js';

/** The architecture id in checkpoints and files. */
export const SPD_ARCHITECTURE = 'spd';

/** A decomposition of a model's weights by SPD, bound to its target model. */
export interface SpdDecomposition extends Decomposition<SpdConfig> {
  readonly target: SpdTarget;
  /** The decomposed modules with their matrices' shapes and C, in config order. */
  readonly modules: readonly SpdModule[];
  /** The shape of every trained tensor, by name, without drawing them. */
  parameterShapes(): Record<string, number[]>;
}

export interface SpdModule extends TargetMatrix {
  readonly name: string;
  readonly C: number;
}

/** How one module's product is computed in a masked forward pass. */
interface MaskInfo {
  /** [...positions, C] */
  readonly mask: Tensor;
  /** [...positions]: the delta component's mask. */
  readonly deltaMask?: Tensor;
  /** [...positions] bool: positions routed to the components; the others use W. Absent: all. */
  readonly routing?: Tensor;
}

/** Stands in for an Rng where only shapes are wanted. */
const ZERO_RNG = { normal: (size: number) => new Float32Array(size) } as unknown as Rng;

/** Parameter names of a module. */
export const componentNames = (module: string) => ({ V: `${module}.V`, U: `${module}.U`, ci: `${module}.ci` });

/**
 * A module's V [d_in, C] and U [C, d_out]. Tied modules follow spd's run_spd, where the tied target's U and V
 * are Parameters of their own whose storage is the source's V and U transposed: AdamW then moves the shared
 * tensor twice per step, once by the gradient through the source's use (with its own moments) and once by
 * the gradient through the target's. Here the shared tensor is the source's parameter plus the target's
 * (transposed, starting at 0), each reached only by its own module's gradient, so Adam's two updates add up
 * as spd's do. Without the target's parameters (params from before this), the source's alone.
 */
export function componentMatrices(spd: SpdDecomposition, params: TensorMap, module: string): { V: Tensor; U: Tensor } {
  const own = componentNames(module);
  const source = spd.config.tied_weights.find(([, target]) => target === module)?.[0];
  if (source !== undefined) {
    const from = componentNames(source);
    const V = transpose(stopGradient(params[from.U]));
    const U = transpose(stopGradient(params[from.V]));
    return params[own.V] === undefined ? { V, U } : { V: add(V, params[own.V]), U: add(U, params[own.U]) };
  }
  const tiedTarget = spd.config.tied_weights.find(([tiedSource]) => tiedSource === module)?.[1];
  const other = tiedTarget === undefined ? undefined : componentNames(tiedTarget);
  if (other === undefined || params[other.V] === undefined) return { V: params[own.V], U: params[own.U] };
  return { V: add(params[own.V], stopGradient(transpose(params[other.U]))), U: add(params[own.U], stopGradient(transpose(params[other.V]))) };
}

/**
 * SPD (Bushnaq, Braun & Sharkey 2025) as goodfire-ai/spd implements it: each
 * chosen matrix W [d_in, d_out] of `target` becomes V [d_in, C] U [C, d_out]
 * with a causal-importance function per module; a training step runs the
 * frozen model once clean (recording each matrix's input), computes the
 * causal importances g, and runs it again with masked components
 * (m = g + (1 - g) r) for each reconstruction loss. The model's weights are
 * frozen inputs, r and the routing come from the step's random inputs, and
 * the p of the importance loss anneals with the step's progress.
 */
export function createSpd(target: SpdTarget, configInput: unknown): SpdDecomposition {
  const config = parseSpdConfig(configInput);
  const modules: SpdModule[] = config.modules.map(({ name, C }) => {
    const matrix = target.matrices.get(name);
    if (matrix === undefined) {
      const known = [...target.matrices.keys()];
      throw new SpdModelError(`SPD: '${name}' is not a weight matrix of ${target.name}; its matrices are ${describeMatrixNames(known)}. Name modules as the model does (e.g. ${known[0]}).`);
    }
    return { name, C, ...matrix };
  });
  const tied = new Set(config.tied_weights.map(([, tiedTarget]) => tiedTarget));
  for (const [source, tiedTarget] of config.tied_weights) {
    const [from, to] = [target.matrices.get(source), target.matrices.get(tiedTarget)];
    if (from !== undefined && to !== undefined && (from.dIn !== to.dOut || from.dOut !== to.dIn)) {
      throw new SpdModelError(
        `SPD: tied_weights ties '${source}' [${from.dIn}, ${from.dOut}] to '${tiedTarget}' [${to.dIn}, ${to.dOut}] of ${target.name}; the target must have the source's transposed shape.`,
      );
    }
  }
  /** The modules that own their V and U (a tied target's start at 0 and add to its source's, see componentMatrices). */
  const owners = modules.filter(({ name }) => !tied.has(name));
  const ciLayers = config.ci_fn_hidden_dims.length + 1;
  const deltaWidth = config.use_delta_component ? 1 : 0;

  /** The random tensors one step needs: per loss and mask sample, each module's r and delta mask, and the routing's draws. */
  const randomShapes = (rows: number): Record<string, number[]> => {
    const positions = target.positions(rows);
    const shapes: Record<string, number[]> = {};
    const masks = (prefix: string, routed: boolean) => {
      for (const { name, C } of modules) {
        shapes[`${prefix}.${name}.r`] = [...positions, C];
        if (config.use_delta_component) shapes[`${prefix}.${name}.delta`] = [...positions];
        if (routed) shapes[`${prefix}.${name}.order`] = [...positions];
      }
      if (routed) shapes[`${prefix}.k`] = [...positions];
    };
    for (let sample = 0; sample < config.n_mask_samples; sample++) {
      if (config.stochastic_recon_coeff > 0) masks(`stochastic.${sample}`, false);
      if (config.stochastic_recon_layerwise_coeff > 0) masks(`layerwise.${sample}`, false);
      if (config.stochastic_recon_subset_coeff > 0) masks(`subset.${sample}`, true);
    }
    if (config.pgd_recon_coeff > 0) {
      for (const { name, C } of modules) {
        if (config.pgd_init === 'random') shapes[`pgd.${name}.init`] = config.pgd_mask_scope === 'shared_across_batch' ? [...positions.map(() => 1), C + deltaWidth] : [...positions, C + deltaWidth];
        if (config.pgd_routing === 'uniform_k_subset') shapes[`pgd.${name}.order`] = [...positions];
      }
      if (config.pgd_routing === 'uniform_k_subset') shapes['pgd.k'] = [...positions];
    }
    return shapes;
  };

  const decomposition: SpdDecomposition = {
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    architecture: SPD_ARCHITECTURE,
    config,
    target,
    modules,
    reads: target.inputs,
    writes: [],
    describe: () => [
      { key: 'architecture', value: SPD_ARCHITECTURE },
      { key: 'modules', value: moduleLabel(modules) },
      { key: 'importance_minimality_coeff', value: config.importance_minimality_coeff },
    ],
    initialParams(rng: Rng) {
      const params: Record<string, HostTensor> = {};
      // spd's init_param_ with the linear gain: V ~ N(0, 1/d_in), U ~ N(0, 1/C).
      for (const { name, C, dIn, dOut } of owners) {
        const names = componentNames(name);
        params[names.V] = hostTensor('float32', [dIn, C], rng.normal(dIn * C, 0, 1 / Math.sqrt(dIn)));
        params[names.U] = hostTensor('float32', [C, dOut], rng.normal(C * dOut, 0, 1 / Math.sqrt(C)));
      }
      for (const { name, C, dIn, dOut } of modules.filter(({ name }) => tied.has(name))) {
        params[componentNames(name).V] = hostTensor('float32', [dIn, C], new Float32Array(dIn * C));
        params[componentNames(name).U] = hostTensor('float32', [C, dOut], new Float32Array(C * dOut));
      }
      for (const { name, C, dIn } of modules) Object.assign(params, initialCiParams(rng, componentNames(name).ci, config.ci_fn_type, dIn, C, config.ci_fn_hidden_dims));
      return params;
    },
    prepareInitialParams(drawn) {
      const params = { ...drawn };
      if (config.faithfulness_warmup_steps === 0) return params;
      // The warm-up is the second stage of the initialisation: the trainer runs it on its own draw only, never on
      // given parameters or a checkpoint's. A tied target's faithfulness is its source's when its matrix is the
      // source's transpose, so the owners alone are warmed.
      const weights = target.weights();
      const warmed = faithfulnessWarmup(
        owners.map(({ name }) => ({
          W: weights[target.weightOf(name)],
          V: params[componentNames(name).V],
          U: params[componentNames(name).U],
          // A tied source gets two AdamW updates per step, as spd's warm-up gives the shared storage (one per Parameter on it).
          updatesPerStep: config.tied_weights.some(([source]) => source === name) ? 2 : 1,
        })),
        {
          steps: config.faithfulness_warmup_steps,
          lr: config.faithfulness_warmup_lr,
          weightDecay: config.faithfulness_warmup_weight_decay,
        },
      );
      owners.forEach(({ name }, index) => {
        params[componentNames(name).V] = warmed[index].V;
        params[componentNames(name).U] = warmed[index].U;
      });
      return params;
    },
    initialState: () => ({}),
    parameterShapes() {
      const shapes: Record<string, number[]> = {};
      for (const { name, C, dIn, dOut } of modules) {
        const names = componentNames(name);
        shapes[names.V] = [dIn, C];
        shapes[names.U] = [C, dOut];
        for (const [parameter, tensor] of Object.entries(initialCiParams(ZERO_RNG, names.ci, config.ci_fn_type, dIn, C, config.ci_fn_hidden_dims))) shapes[parameter] = [...tensor.shape];
      }
      return shapes;
    },
    frozenInputs: () => target.weights(),
    randomInputs: randomShapes,
    gradientGroups(): readonly GradientGroup[] {
      const groups: GradientGroup[] = [];
      const components = modules.flatMap(({ name }) => [componentNames(name).V, componentNames(name).U]);
      const ciParams = modules.flatMap(({ name }) => Array.from({ length: ciLayers }, (_, layer) => [`${componentNames(name).ci}.W${layer}`, `${componentNames(name).ci}.b${layer}`]).flat());
      if (config.grad_clip_norm_components !== null) groups.push({ params: components, maxGradNorm: config.grad_clip_norm_components });
      if (config.grad_clip_norm_ci_fns !== null) groups.push({ params: ciParams, maxGradNorm: config.grad_clip_norm_ci_fns });
      return groups;
    },
    // In comparisons, SPD of a transformer's MLP matrices replaces the MLP outputs (spd-mlp-replacement.ts).
    ...(target.transformer === undefined ? {} : { streamReplacement: (params: Readonly<Record<string, HostTensor>>) => spdMlpReplacements(decomposition, params) }),
    // Feature dashboards show each component's causal importance per token (spd-dashboard-values.ts).
    dashboardValues: (graph, inputs, params, frozen) => spdDashboardValues(graph, decomposition, inputs, params, frozen),
    forward(graph, { inputs }, params, _state, options): ForwardOutput {
      if (options?.frozen === undefined || options.random === undefined) {
        throw new ConfigError("SPD's forward needs the step's frozen model weights and random inputs (options.frozen, options.random); train it with @nnd/train, which feeds them.");
      }
      return spdForward(graph, decomposition, inputs, params, options.frozen, options.random, options.progress);
    },
  };
  return decomposition;
}

/** What one SPD forward computes besides the losses, for evaluation: the clean output, the module inputs and causal importances. */
export interface SpdActivations {
  readonly targetOutput: Tensor;
  /** Each module's input [...positions, d_in]. */
  readonly moduleInputs: TensorMap;
  /** lower-leaky causal importances [...positions, C] per module (masks use these). */
  readonly ci: TensorMap;
  /** upper-leaky causal importances [...positions, C] per module (the importance loss uses these). */
  readonly ciUpper: TensorMap;
  /** W - VU [d_in, d_out] per module (in this layout). */
  readonly deltas: TensorMap;
  /** The model's output with each module's product computed as the mask infos say. */
  readonly maskedOutput: (masks: Readonly<Record<string, MaskInfo>>) => Tensor;
}

/** Runs the clean model, records the module inputs and computes the causal importances. */
export function spdActivations(graph: Graph, spd: SpdDecomposition, inputs: TensorMap, params: TensorMap, frozen: TensorMap): SpdActivations {
  const { target, modules, config } = spd;
  const moduleInputs: TensorMap = {};
  const recording: Record<string, MatrixProduct> = Object.fromEntries(
    modules.map(({ name }) => [
      name,
      (x: Tensor, W: Tensor) => {
        moduleInputs[name] = x;
        return matmul(x, W);
      },
    ]),
  );
  const targetOutput = stopGradient(target.forward(graph, inputs, frozen, recording));
  const ci: TensorMap = {};
  const ciUpper: TensorMap = {};
  const deltas: TensorMap = {};
  const ciLayers = config.ci_fn_hidden_dims.length + 1;
  const matrices = Object.fromEntries(modules.map(({ name }) => [name, componentMatrices(spd, params, name)]));
  for (const { name, C, dIn } of modules) {
    const names = componentNames(name);
    const { V, U } = matrices[name];
    const x = moduleInputs[name];
    const leading = x.shape.slice(0, -1);
    const flat = reshape(x, [-1, dIn]);
    // spd does not detach the CI function's input in training, so the CI losses train V through h too.
    const h = matmul(flat, V);
    const raw = ciFunction(config.ci_fn_type, params, names.ci, ciLayers, h, flat);
    ci[name] = reshape(lowerLeakyHardSigmoid(raw), [...leading, C]);
    ciUpper[name] = reshape(upperLeakyHardSigmoid(raw), [...leading, C]);
    deltas[name] = sub(frozen[target.weightOf(name)], matmul(V, U));
  }
  const maskedOutput = (masks: Readonly<Record<string, MaskInfo>>) =>
    target.forward(
      graph,
      inputs,
      frozen,
      Object.fromEntries(
        Object.entries(masks).map(([name, info]) => {
          const { V, U } = matrices[name];
          return [
            name,
            (x: Tensor, W: Tensor) => {
              let out = matmul(mul(matmul(x, V), info.mask), U);
              if (info.deltaMask !== undefined) out = add(out, mul(matmul(x, deltas[name]), unsqueeze(info.deltaMask, -1)));
              return info.routing === undefined ? out : where(unsqueeze(info.routing, -1), out, matmul(x, W));
            },
          ];
        }),
      ),
    );
  return { targetOutput, moduleInputs, ci, ciUpper, deltas, maskedOutput };
}

/**
 * The mean reconstruction loss of an output against the target's: MSE over
 * all elements, or KL(target || output) over the last axis averaged over
 * positions (spd's calc_sum_recon_loss_lm over its n_examples).
 */
export function reconLoss(kind: 'kl' | 'mse', output: Tensor, target: Tensor): Tensor {
  if (kind === 'mse') {
    const difference = sub(output, target);
    return reduceMean(mul(difference, difference));
  }
  const targetLogProbabilities = logSoftmax(target, -1);
  const perPosition = reduceSum(mul(exp(targetLogProbabilities), sub(targetLogProbabilities, logSoftmax(output, -1))), -1);
  return reduceMean(perPosition);
}

/** uniform_k_subset: with k = floor(u n) + 1 and a random order of the n modules per position, module m is routed when its rank < k, i.e. rank <= u n. */
export function uniformKSubsetRouting(orders: readonly Tensor[], u: Tensor): Tensor[] {
  const n = orders.length;
  return orders.map((own) => {
    let rank: Tensor | undefined;
    for (const other of orders) {
      if (other === own) continue;
      const below = cast(greater(own, other), 'float32');
      rank = rank === undefined ? below : add(rank, below);
    }
    return lessOrEqual(rank ?? mul(u, 0), mul(u, n));
  });
}

/** The importance loss's exponent at `progress`: p, annealed linearly to p_anneal_final_p between the start and end fractions. */
export function annealedP(config: SpdConfig, progress: Tensor | undefined): Tensor | number {
  const { pnorm: initial, p_anneal_final_p: final, p_anneal_start_frac: start, p_anneal_end_frac: end } = config;
  if (final === null || start >= 1) return initial;
  if (progress === undefined) throw new ConfigError("SPD: p annealing needs the step's progress (options.progress), which @nnd/train feeds.");
  if (end === start) return add(mul(cast(lessOrEqual(end, progress), 'float32'), final - initial), initial);
  const t = minimum(maximum(div(sub(progress, start), end - start), 0), 1);
  return add(mul(t, final - initial), initial);
}

function spdForward(graph: Graph, spd: SpdDecomposition, inputs: TensorMap, params: TensorMap, frozen: TensorMap, random: TensorMap, progress: Tensor | undefined): ForwardOutput {
  const { config, modules, target } = spd;
  const activations = spdActivations(graph, spd, inputs, params, frozen);
  const { targetOutput, ci, ciUpper, deltas } = activations;
  const losses: Record<string, Tensor> = {};
  const metrics: Record<string, Tensor> = {};
  const record = (name: string, coeff: number, value: Tensor) => {
    metrics[`${name}_unweighted`] = value;
    losses[name] = mul(value, coeff);
  };
  const stochasticMasks = (prefix: string, routed: boolean): Record<string, MaskInfo> => {
    const routing = routed
      ? uniformKSubsetRouting(
          modules.map(({ name }) => random[`${prefix}.${name}.order`]),
          random[`${prefix}.k`],
        )
      : undefined;
    return Object.fromEntries(
      modules.map(({ name }, index) => [
        name,
        {
          mask: add(ci[name], mul(sub(1, ci[name]), random[`${prefix}.${name}.r`])),
          ...(config.use_delta_component ? { deltaMask: random[`${prefix}.${name}.delta`] } : {}),
          ...(routing ? { routing: routing[index] } : {}),
        },
      ]),
    );
  };
  const mean = (terms: Tensor[]) =>
    div(
      terms.reduce((sum, term) => add(sum, term)),
      terms.length,
    );
  const samples = Array.from({ length: config.n_mask_samples }, (_, sample) => sample);

  if (config.faithfulness_coeff > 0) {
    const total = modules.reduce((sum, { dIn, dOut }) => sum + dIn * dOut, 0);
    const sumOfSquares = modules.map(({ name }) => reduceSum(mul(deltas[name], deltas[name]))).reduce((sum, term) => add(sum, term));
    record('faithfulness_loss', config.faithfulness_coeff, div(sumOfSquares, total));
  }
  if (config.stochastic_recon_coeff > 0) {
    record(
      'stochastic_recon_loss',
      config.stochastic_recon_coeff,
      mean(samples.map((sample) => reconLoss(target.outputLoss, activations.maskedOutput(stochasticMasks(`stochastic.${sample}`, false)), targetOutput))),
    );
  }
  if (config.stochastic_recon_layerwise_coeff > 0) {
    record(
      'stochastic_recon_layerwise_loss',
      config.stochastic_recon_layerwise_coeff,
      mean(
        samples.flatMap((sample) => {
          const masks = stochasticMasks(`layerwise.${sample}`, false);
          return modules.map(({ name }) => reconLoss(target.outputLoss, activations.maskedOutput({ [name]: masks[name] }), targetOutput));
        }),
      ),
    );
  }
  if (config.stochastic_recon_subset_coeff > 0) {
    record(
      'stochastic_recon_subset_loss',
      config.stochastic_recon_subset_coeff,
      mean(samples.map((sample) => reconLoss(target.outputLoss, activations.maskedOutput(stochasticMasks(`subset.${sample}`, true)), targetOutput))),
    );
  }
  if (config.importance_minimality_coeff > 0) {
    const p = annealedP(config, progress);
    const perModule = modules.map(({ name, C }) => {
      const powered = reshape(pow(add(ciUpper[name], config.importance_minimality_eps), p), [-1, C]);
      const perComponentMean = reduceMean(powered, 0);
      if (config.importance_minimality_beta === 0) return reduceSum(perComponentMean);
      const perComponentSum = reduceSum(powered, 0);
      const log2 = div(log(add(perComponentSum, 1)), Math.LN2);
      return reduceSum(add(perComponentMean, mul(mul(perComponentMean, log2), config.importance_minimality_beta)));
    });
    record(
      'importance_minimality_loss',
      config.importance_minimality_coeff,
      perModule.reduce((sum, term) => add(sum, term)),
    );
  }
  if (config.pgd_recon_coeff > 0) record('pgd_recon_loss', config.pgd_recon_coeff, pgdReconLoss(graph, spd, activations, random));

  for (const { name, C } of modules) {
    metrics[`l0.${name}`] = reduceMean(reduceSum(cast(greater(ci[name], config.ci_alive_threshold), 'float32'), -1));
    void C;
  }
  const featureActs = concat(
    modules.map(({ name, C }) => reshape(ci[name], [-1, C])),
    1,
  );
  return { outputs: {}, featureActs, losses, metrics, nextState: {} };
}

/**
 * spd's PGD reconstruction loss: mask sources (random, ones or zeros in
 * [0, 1], one per module and component, plus one for the delta component)
 * take `pgd_n_steps` steps of src += step_size sign(d loss / d src), clamped
 * to [0, 1]; the loss with the final sources is the result. The sources are
 * not trained, so gradients reach V, U and the CI functions only through the
 * last pass's causal importances and deltas.
 */
function pgdReconLoss(graph: Graph, spd: SpdDecomposition, activations: SpdActivations, random: TensorMap): Tensor {
  const { config, modules, target } = spd;
  const { ci, targetOutput } = activations;
  const delta = config.use_delta_component;
  const positions = ci[modules[0].name].shape.slice(0, -1).map(Number);
  const routing =
    config.pgd_routing === 'uniform_k_subset'
      ? uniformKSubsetRouting(
          modules.map(({ name }) => random[`pgd.${name}.order`]),
          random['pgd.k'],
        )
      : undefined;
  const shapeOf = (C: number) => (config.pgd_mask_scope === 'shared_across_batch' ? [...positions.map(() => 1), C] : [...positions, C]);
  let sources: Tensor[] = modules.map(({ name, C }) => {
    if (config.pgd_init === 'random') return random[`pgd.${name}.init`];
    const shape = shapeOf(C + (delta ? 1 : 0));
    return graph.constant(hostTensor('float32', shape, new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(config.pgd_init === 'ones' ? 1 : 0)));
  });
  const lossWith = (current: readonly Tensor[]) =>
    reconLoss(
      target.outputLoss,
      activations.maskedOutput(
        Object.fromEntries(
          modules.map(({ name, C }, index) => {
            const source = current[index];
            const componentSource = delta ? sliceLast(source, 0, C) : source;
            const info: MaskInfo = {
              mask: add(ci[name], mul(sub(1, ci[name]), componentSource)),
              ...(delta ? { deltaMask: reshape(sliceLast(source, C, C + 1), source.shape.slice(0, -1)) } : {}),
              ...(routing ? { routing: routing[index] } : {}),
            };
            return [name, info];
          }),
        ),
      ),
      targetOutput,
    );
  for (let step = 0; step < config.pgd_n_steps; step++) {
    const frozenSources = sources.map((source) => stopGradient(source));
    const gradients = grad(lossWith(frozenSources), frozenSources);
    sources = frozenSources.map((source, index) => stopGradient(minimum(maximum(add(source, mul(sign(gradients[index]), config.pgd_step_size)), 0), 1)));
  }
  return lossWith(sources.map((source) => stopGradient(source)));
}

function sliceLast(x: Tensor, start: number, end: number): Tensor {
  return slice(x, { starts: [start], ends: [end], axes: [x.rank - 1] });
}
