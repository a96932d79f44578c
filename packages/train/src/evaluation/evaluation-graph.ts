import {
  axisSize,
  cast,
  concat,
  ConfigError,
  equal,
  expand,
  Graph,
  mul,
  mulDims,
  not,
  reduceMean,
  reduceSum,
  reshape,
  ShapeError,
  streamsOf,
  topk,
  zeros,
  type Decomposition,
  type Dim,
  type Tensor,
  type TensorMap,
} from '@nnd/core';
import { TOKENS_INPUT, type HookedTransformer, type HookReplacement } from '@nnd/models';
import type { TensorSpec } from '../training-step.js';
import { cleanDistribution, klDivergenceSum } from './kl-divergence.js';
import { activationSums, reconstructionSums } from './reconstruction-sums.js';

/**
 * How the decomposition computes what is spliced in: `'forward'` is its
 * training forward pass on the batch's positions (the reference's
 * `sae(batch)`, so BatchTopK shares its budget over the batch), `'infer'`
 * its per-sample inference (`inferOutputs`; BatchTopK then uses its running
 * threshold).
 */
export type ReconstructionMode = 'forward' | 'infer';

/**
 * Where a decomposition's inputs come from when it writes several hooks:
 * `'replacement'` reads each input from the spliced pass itself, so an
 * earlier output's error reaches later inputs (a true replacement model,
 * errors compound as they would for per-layer transcoders); `'clean_inputs'`
 * computes every output from the unmodified model's activations, then splices
 * them all in at once (the reference's CLT evaluation). The two agree for a
 * decomposition whose inputs all come before its first output (an SAE, a
 * transcoder).
 */
export type SplicedInputs = 'replacement' | 'clean_inputs';

/** A decomposition to evaluate, with the dtype and shape of each tensor fed at run time. */
export interface EvaluatedDecomposition {
  readonly decomposition: Decomposition;
  readonly params: Readonly<Record<string, TensorSpec>>;
  readonly state: Readonly<Record<string, TensorSpec>>;
}

export interface EvaluationGraphOptions {
  readonly model: HookedTransformer;
  /** Decompositions that write the same hooks share the clean and ablated passes. */
  readonly members: readonly EvaluatedDecomposition[];
  readonly reconstruction: ReconstructionMode;
  /** Default 'replacement'. */
  readonly splicedInputs?: SplicedInputs;
  /** Positions holding this token id are left out of the activation sums (not of the losses). */
  readonly excludedTokenId?: number;
  /** Also output each feature's activation sum (for mean activations). */
  readonly featureActivationSums?: boolean;
}

export interface EvaluationGraph {
  readonly graph: Graph;
  readonly outputs: Record<string, Tensor>;
  /** Per member, the index of the ablation group (members writing the same hooks) whose baseline outputs it uses. */
  readonly ablationGroups: readonly number[];
}

/**
 * Output names of the evaluation program. Ablation baselines and the target
 * activations' sums belong to a group of members that write the same hooks;
 * member outputs carry the member's position.
 */
export const EVALUATION_OUTPUTS = {
  originalLoss: 'loss.original',
  zeroAblationLoss: (group: number) => `ablation${group}.loss.zero`,
  /** Σ over positions of KL(clean ‖ zero-ablated) next-token distributions (see klDivergenceSum). */
  zeroAblationKl: (group: number) => `ablation${group}.kl.zero`,
  meanAblationLoss: (group: number) => `ablation${group}.loss.mean`,
  count: 'activations.count',
  sum: (group: number) => `ablation${group}.activations.sum`,
  centeredSquareSum: (group: number) => `ablation${group}.activations.centered_square_sum`,
  squareSum: (group: number) => `ablation${group}.activations.square_sum`,
  reconstructedLoss: (member: number) => `member${member}.loss.reconstructed`,
  /** Σ over positions of KL(clean ‖ spliced) next-token distributions. */
  reconstructedKl: (member: number) => `member${member}.kl.reconstructed`,
  /** Positions where the spliced model's most likely next token is the original model's. */
  top1Agreements: (member: number) => `member${member}.top1_agreements`,
  squaredErrorSum: (member: number) => `member${member}.squared_error_sum`,
  firingCounts: (member: number) => `member${member}.firing_counts`,
  /** Per feature, the sum of its activations (only with featureActivationSums). */
  activationSums: (member: number) => `member${member}.activation_sums`,
  /** Per written hook of a decomposition that writes several (a CLT's layers): the sums behind its own explained variance and MSE. */
  hookSum: (member: number, hook: number, kind: 'sum' | 'centered_square_sum' | 'square_sum' | 'squared_error_sum') => `member${member}.hook${hook}.${kind}`,
} as const;

export function memberInputName(member: number, kind: 'param' | 'state', name: string): string {
  return `member${member}.${kind}.${name}`;
}

/**
 * One graph for one evaluation batch. The model runs once up to the loss
 * with every hook the decompositions read or write exposed; then, per
 * intervention, again with the written hooks replaced. A replacement pass
 * reads the clean pass's values for everything before its first replaced
 * hook, so its own copies of the earlier blocks feed nothing and are never
 * compiled. Weights are the same graph inputs in every pass.
 *
 * Tokens are [batch, seq] with symbolic sizes, so one compiled program
 * serves every batch shape.
 */
export function buildEvaluationGraph(options: EvaluationGraphOptions): EvaluationGraph {
  const { model, members, splicedInputs = 'replacement' } = options;
  if (members.length === 0) throw new ConfigError('evaluation: no decompositions to evaluate; pass at least one.');
  const graph = new Graph();
  const tokens = graph.input(TOKENS_INPUT, ['batch', 'seq'], 'int64');
  const streams = streamsOf(members.map(({ decomposition }) => decomposition));
  const clean = model.buildGraph(graph, tokens, { outputs: streams.map(({ hook }) => hook), returnType: 'both' });
  const cleanTop1 = topk(clean.logits!, 1, { axis: -1 }).indices;
  const cleanNextTokens = cleanDistribution(clean.logits!);
  const first = clean.hooks[streams[0].hook];
  const positions = mulDims(first.shape[0], first.shape[1]);
  // Row b * seq + s is position s of sequence b, as the activation store lays out its batches.
  const samples: TensorMap = Object.fromEntries(streams.map(({ hook, width }) => [hook, rowsOf(clean.hooks[hook], hook, width, positions)]));
  const splicedLoss = (replace: Record<string, HookReplacement>): Tensor => model.buildGraph(graph, tokens, { replace, returnType: 'loss' }).loss!;

  let weights: Tensor | undefined;
  let count: Tensor;
  if (options.excludedTokenId === undefined) {
    count = mul(axisSize(first, 0, first.dtype), axisSize(first, 1, first.dtype));
  } else {
    weights = cast(not(equal(reshape(tokens, [positions, 1]), options.excludedTokenId)), first.dtype);
    count = reduceSum(weights);
  }
  const outputs: Record<string, Tensor> = { [EVALUATION_OUTPUTS.originalLoss]: clean.loss!, [EVALUATION_OUTPUTS.count]: count };

  // Members writing the same hooks share their baselines and target sums.
  const groupKeys: string[] = [];
  const ablationGroups = members.map(({ decomposition }) => {
    const key = JSON.stringify(decomposition.writes.map(({ hook }) => hook));
    let group = groupKeys.indexOf(key);
    if (group === -1) {
      group = groupKeys.push(key) - 1;
      const written = decomposition.writes.map(({ hook }) => hook);
      const sums = activationSums(concatenated(written.map((hook) => samples[hook])), weights, count);
      const zeroAblated = model.buildGraph(graph, tokens, {
        replace: Object.fromEntries(written.map((hook) => [hook, (_graph: Graph, value: Tensor) => zeros(graph, value.shape, value.dtype)])),
        returnType: 'both',
      });
      outputs[EVALUATION_OUTPUTS.zeroAblationLoss(group)] = zeroAblated.loss!;
      outputs[EVALUATION_OUTPUTS.zeroAblationKl(group)] = klDivergenceSum(cleanNextTokens, zeroAblated.logits!);
      // The reference's mean ablation: every position gets the hook's mean over the batch and positions.
      outputs[EVALUATION_OUTPUTS.meanAblationLoss(group)] = splicedLoss(
        Object.fromEntries(written.map((hook) => [hook, () => expand(reduceMean(clean.hooks[hook], [0, 1], true), clean.hooks[hook].shape)])),
      );
      outputs[EVALUATION_OUTPUTS.sum(group)] = sums.sum;
      outputs[EVALUATION_OUTPUTS.centeredSquareSum(group)] = sums.centeredSquareSum;
      outputs[EVALUATION_OUTPUTS.squareSum(group)] = sums.squareSum;
    }
    return group;
  });

  members.forEach((member, index) => {
    const { decomposition } = member;
    const inputs = (kind: 'param' | 'state', specs: Readonly<Record<string, TensorSpec>>): TensorMap =>
      Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, graph.input(memberInputName(index, kind, name), [...spec.shape], spec.dtype)]));
    const params = inputs('param', member.params);
    const state = inputs('state', member.state);
    const targets = Object.fromEntries(decomposition.writes.map(({ hook }) => [hook, samples[hook]]));
    const compute = (reads: TensorMap): { outputs: TensorMap; featureActs: Tensor } => {
      if (options.reconstruction === 'forward') return decomposition.forward(graph, { inputs: reads, targets }, params, state);
      if (decomposition.inferOutputs === undefined) {
        throw new ConfigError(`evaluation: reconstruction 'infer' needs a decomposition with inferOutputs, and '${decomposition.architecture}' has none; use reconstruction 'forward'.`);
      }
      return decomposition.inferOutputs(graph, reads, params, state);
    };
    const splice = spliceDecomposition(decomposition, samples, splicedInputs, compute, positions);
    const spliced = model.buildGraph(graph, tokens, { replace: splice.replace, returnType: 'both' });
    outputs[EVALUATION_OUTPUTS.reconstructedLoss(index)] = spliced.loss!;
    outputs[EVALUATION_OUTPUTS.reconstructedKl(index)] = klDivergenceSum(cleanNextTokens, spliced.logits!);
    outputs[EVALUATION_OUTPUTS.top1Agreements(index)] = reduceSum(cast(equal(topk(spliced.logits!, 1, { axis: -1 }).indices, cleanTop1), first.dtype));
    // The sums need the outputs computed from every input; building the spliced pass has computed them.
    const { outputs: splicedOutputs, featureActs } = splice.complete();
    for (const { hook, width } of decomposition.writes) {
      const output = splicedOutputs[hook];
      if (output === undefined || output.rank !== 2 || output.shape[1] !== width) {
        throw new ShapeError(
          `evaluation: decomposition ${index} ('${decomposition.architecture}') returned ${output ?? 'no output'} for '${hook}' from ${samples[decomposition.reads[0].hook]} inputs; it must be [positions, ${width}].`,
        );
      }
    }
    if (featureActs.rank !== 2)
      throw new ShapeError(`evaluation: decomposition ${index} ('${decomposition.architecture}') returned ${featureActs} feature activations; they must be [positions, features].`);
    const written = decomposition.writes.map(({ hook }) => hook);
    const memberSums = reconstructionSums(concatenated(written.map((hook) => samples[hook])), concatenated(written.map((hook) => splicedOutputs[hook])), featureActs, weights);
    outputs[EVALUATION_OUTPUTS.squaredErrorSum(index)] = memberSums.squaredErrorSum;
    if (written.length > 1) {
      written.forEach((hook, position) => {
        const target = activationSums(samples[hook], weights, count);
        outputs[EVALUATION_OUTPUTS.hookSum(index, position, 'sum')] = target.sum;
        outputs[EVALUATION_OUTPUTS.hookSum(index, position, 'centered_square_sum')] = target.centeredSquareSum;
        outputs[EVALUATION_OUTPUTS.hookSum(index, position, 'square_sum')] = target.squareSum;
        outputs[EVALUATION_OUTPUTS.hookSum(index, position, 'squared_error_sum')] = reconstructionSums(samples[hook], splicedOutputs[hook], featureActs, weights).squaredErrorSum;
      });
    }
    outputs[EVALUATION_OUTPUTS.firingCounts(index)] = memberSums.firingCounts;
    if (options.featureActivationSums === true) outputs[EVALUATION_OUTPUTS.activationSums(index)] = memberSums.activationSums;
  });
  return { graph, outputs, ablationGroups };
}

/** A hook's value as [positions, width] rows, checking that it holds one vector of `width` per position. */
function rowsOf(value: Tensor, hook: string, width: number, positions: Dim): Tensor {
  const [batch, seq, ...trailing] = value.shape;
  const size = trailing.every((dim) => typeof dim === 'number') ? (trailing as number[]).reduce((product, dim) => product * dim, 1) : undefined;
  if (batch !== 'batch' || seq !== 'seq' || size === undefined) {
    throw new ConfigError(`evaluation: hook '${hook}' is [${value.shape.join(', ')}], not one vector per position [batch, seq, ...]; pick a per-position hook such as blocks.0.hook_resid_pre.`);
  }
  if (size !== width)
    throw new ShapeError(`evaluation: hook '${hook}' holds ${size} values per position, but the decomposition declares width ${width} for it; it was trained on another hook or model.`);
  return reshape(value, [positions, width]);
}

function concatenated(tensors: readonly Tensor[]): Tensor {
  return tensors.length === 1 ? tensors[0] : concat(tensors, -1);
}

interface Splice {
  readonly replace: Record<string, HookReplacement>;
  /** The outputs computed from every input of the spliced pass (or the clean one), after `replace` has been built into a pass. */
  complete(): { outputs: TensorMap; featureActs: Tensor };
}

/**
 * The replacements that splice a decomposition into a pass: read hooks are
 * observed as the pass reaches them, written hooks are replaced by the
 * decomposition's outputs. Hooks come in the model's order, so when a
 * written hook is reached after every read hook, one computation serves all
 * outputs. A written hook reached before some read hook (a CLT's layer 0,
 * in 'replacement' mode) is computed from the inputs seen so far, with clean
 * values standing in for the rest: the decomposition must be causal (an
 * output depends only on inputs that come before it in the model), which the
 * layered decompositions are. Inputs observed before any replacement are
 * the clean pass's own tensors, so the pass's prefix is never built twice.
 */
function spliceDecomposition(decomposition: Decomposition, clean: TensorMap, mode: SplicedInputs, compute: (reads: TensorMap) => { outputs: TensorMap; featureActs: Tensor }, positions: Dim): Splice {
  const readHooks = new Set(decomposition.reads.map(({ hook }) => hook));
  const writtenHooks = new Set(decomposition.writes.map(({ hook }) => hook));
  const observed: TensorMap = {};
  let replacedAny = false;
  let complete: { outputs: TensorMap; featureActs: Tensor } | undefined;
  const readsNow = (): TensorMap => Object.fromEntries(decomposition.reads.map(({ hook }) => [hook, observed[hook] ?? clean[hook]]));
  const replace: Record<string, HookReplacement> = {};
  for (const hook of new Set([...readHooks, ...writtenHooks])) {
    replace[hook] = (_graph, value) => {
      if (readHooks.has(hook)) {
        const width = decomposition.reads.find((port) => port.hook === hook)!.width;
        observed[hook] = replacedAny && mode === 'replacement' ? reshape(value, [positions, width]) : clean[hook];
      }
      if (!writtenHooks.has(hook)) return value;
      const allRead = mode === 'clean_inputs' || decomposition.reads.every((port) => port.hook in observed);
      let result: { outputs: TensorMap; featureActs: Tensor };
      if (allRead) {
        complete ??= compute(readsNow());
        result = complete;
      } else {
        result = compute(readsNow());
      }
      replacedAny = true;
      const output = result.outputs[hook];
      if (output === undefined) {
        throw new ShapeError(`evaluation: decomposition '${decomposition.architecture}' writes '${hook}' but returned no output for it (it returned {${Object.keys(result.outputs).join(', ')}}).`);
      }
      return output.rank === value.rank ? output : reshape(output, value.shape);
    };
  }
  return {
    replace,
    complete: () => {
      if (complete === undefined) {
        // Every read hook lies after the last written one, which a spliced pass never reaches: read them from the clean pass.
        complete = compute(Object.fromEntries(decomposition.reads.map(({ hook }) => [hook, observed[hook] ?? clean[hook]])));
      }
      return complete;
    },
  };
}
