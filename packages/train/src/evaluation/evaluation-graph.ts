import {
  axisSize, cast, ConfigError, equal, expand, Graph, mul, mulDims, not, reduceMean, reduceSum, reshape, ShapeError, zeros,
  type Decomposition, type Tensor, type TensorMap,
} from '@nnd/core';
import { TOKENS_INPUT, type HookedTransformer } from '@nnd/models';
import type { TensorSpec } from '../training-step.js';
import { activationSums, reconstructionSums } from './reconstruction-sums.js';

/**
 * How the decomposition reconstructs the hook's activations: `'forward'`
 * is its training forward pass on the batch's positions (the reference's
 * `sae(batch)`, so BatchTopK shares its budget over the batch), `'infer'` its
 * per-sample inference (BatchTopK then uses its running threshold); only
 * decompositions with an `infer` method (every SAE of @nnd/sae) have it.
 */
export type ReconstructionMode = 'forward' | 'infer';

/** A decomposition to evaluate, with the dtype and shape of each tensor fed at run time. */
export interface EvaluatedDecomposition {
  readonly decomposition: Decomposition;
  readonly params: Readonly<Record<string, TensorSpec>>;
  readonly state: Readonly<Record<string, TensorSpec>>;
}

export interface EvaluationGraphOptions {
  readonly model: HookedTransformer;
  readonly hookPoint: string;
  /** Several decompositions of the same hook share the clean and ablated passes. */
  readonly members: readonly EvaluatedDecomposition[];
  readonly reconstruction: ReconstructionMode;
  /** Positions holding this token id are left out of the activation sums (not of the losses). */
  readonly excludedTokenId?: number;
}

export interface EvaluationGraph {
  readonly graph: Graph;
  readonly outputs: Record<string, Tensor>;
}

/** Output names of the evaluation program; member outputs carry the member's position. */
export const EVALUATION_OUTPUTS = {
  originalLoss: 'loss.original',
  zeroAblationLoss: 'loss.zero_ablation',
  meanAblationLoss: 'loss.mean_ablation',
  count: 'activations.count',
  sum: 'activations.sum',
  centeredSquareSum: 'activations.centered_square_sum',
  squareSum: 'activations.square_sum',
  reconstructedLoss: (member: number) => `sae${member}.loss.reconstructed`,
  squaredErrorSum: (member: number) => `sae${member}.squared_error_sum`,
  firingCounts: (member: number) => `sae${member}.firing_counts`,
} as const;

export function memberInputName(member: number, kind: 'param' | 'state', name: string): string {
  return `sae${member}.${kind}.${name}`;
}

interface Inference {
  infer(graph: Graph, x: Tensor, params: TensorMap, state: TensorMap): { featureActs: Tensor; reconstruction: Tensor };
}

function canInfer(decomposition: Decomposition): decomposition is Decomposition & Inference {
  return typeof (decomposition as Partial<Inference>).infer === 'function';
}

/**
 * One graph for one evaluation batch: the model runs once up to the loss
 * with the hook's value exposed, then the blocks after the hook run again
 * for each intervention, reading that value instead of recomputing it. The
 * spliced passes replace the hook with tensors built from the clean pass's
 * value, so their own copies of the earlier blocks feed nothing and are never
 * compiled. Weights are the same graph inputs in every pass.
 *
 * Tokens are [batch, seq] with symbolic sizes, so one compiled program
 * serves every batch shape.
 */
export function buildEvaluationGraph(options: EvaluationGraphOptions): EvaluationGraph {
  const { model, hookPoint, members } = options;
  if (members.length === 0) throw new ConfigError('evaluation: no decompositions to evaluate; pass at least one.');
  const graph = new Graph();
  const tokens = graph.input(TOKENS_INPUT, ['batch', 'seq'], 'int64');
  const clean = model.buildGraph(graph, tokens, { outputs: [hookPoint], returnType: 'loss' });
  const activation = clean.hooks[hookPoint];
  const [batch, seq, ...trailing] = activation.shape;
  if (batch !== 'batch' || seq !== 'seq' || trailing.some((dim) => typeof dim !== 'number')) {
    throw new ConfigError(`evaluation: hook '${hookPoint}' is [${activation.shape.join(', ')}], not one vector per position [batch, seq, ...]; pick a per-position hook such as blocks.0.hook_resid_pre.`);
  }
  const width = (trailing as number[]).reduce((product, dim) => product * dim, 1);
  const positions = mulDims(batch, seq);
  // Row b * seq + s is position s of sequence b, as the activation store lays out its batches.
  const samples = reshape(activation, [positions, width]);
  const splicedLoss = (replacement: Tensor): Tensor => model.buildGraph(graph, tokens, { replace: { [hookPoint]: () => replacement }, returnType: 'loss' }).loss!;

  let weights: Tensor | undefined;
  let count: Tensor;
  if (options.excludedTokenId === undefined) {
    count = mul(axisSize(activation, 0, samples.dtype), axisSize(activation, 1, samples.dtype));
  } else {
    weights = cast(not(equal(reshape(tokens, [positions, 1]), options.excludedTokenId)), samples.dtype);
    count = reduceSum(weights);
  }
  const sums = activationSums(samples, weights, count);
  const outputs: Record<string, Tensor> = {
    [EVALUATION_OUTPUTS.originalLoss]: clean.loss!,
    [EVALUATION_OUTPUTS.zeroAblationLoss]: splicedLoss(zeros(graph, activation.shape, activation.dtype)),
    // The reference's mean ablation: every position gets the mean over the batch and positions.
    [EVALUATION_OUTPUTS.meanAblationLoss]: splicedLoss(expand(reduceMean(activation, [0, 1], true), activation.shape)),
    [EVALUATION_OUTPUTS.count]: sums.count,
    [EVALUATION_OUTPUTS.sum]: sums.sum,
    [EVALUATION_OUTPUTS.centeredSquareSum]: sums.centeredSquareSum,
    [EVALUATION_OUTPUTS.squareSum]: sums.squareSum,
  };

  members.forEach((member, index) => {
    const { decomposition } = member;
    const inputs = (kind: 'param' | 'state', specs: Readonly<Record<string, TensorSpec>>): TensorMap =>
      Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, graph.input(memberInputName(index, kind, name), [...spec.shape], spec.dtype)]));
    const params = inputs('param', member.params);
    const state = inputs('state', member.state);
    let output: { featureActs: Tensor; reconstruction: Tensor };
    if (options.reconstruction === 'infer') {
      if (!canInfer(decomposition)) {
        throw new ConfigError(`evaluation: reconstruction 'infer' needs a decomposition with an infer method, and '${decomposition.architecture}' has none; use reconstruction 'forward'.`);
      }
      output = decomposition.infer(graph, samples, params, state);
    } else {
      output = decomposition.forward(graph, samples, params, state);
    }
    const { reconstruction, featureActs } = output;
    if (reconstruction.rank !== 2 || reconstruction.shape[1] !== width || featureActs.rank !== 2) {
      throw new ShapeError(`evaluation: decomposition ${index} ('${decomposition.architecture}') returned a ${reconstruction} reconstruction and ${featureActs} feature activations for ${samples} activations of '${hookPoint}'; they must be [positions, ${width}] and [positions, dict_size].`);
    }
    const memberSums = reconstructionSums(samples, reconstruction, featureActs, weights);
    outputs[EVALUATION_OUTPUTS.reconstructedLoss(index)] = splicedLoss(reshape(reconstruction, activation.shape));
    outputs[EVALUATION_OUTPUTS.squaredErrorSum(index)] = memberSums.squaredErrorSum;
    outputs[EVALUATION_OUTPUTS.firingCounts(index)] = memberSums.firingCounts;
  });
  return { graph, outputs };
}
