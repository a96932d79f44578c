import { ConfigError, ShapeError, type Backend, type Decomposition, type DeviceTensor, type Feed, type HostTensor, type Program } from '@nnd/core';
import { toTokenTensor, TOKENS_INPUT, type HookedTransformer, type TokenInput } from '@nnd/models';
import { specOf } from '../training-step.js';
import { buildEvaluationGraph, EVALUATION_OUTPUTS, memberInputName, type EvaluatedDecomposition, type ReconstructionMode, type SplicedInputs } from './evaluation-graph.js';
import { lossRecovery } from './loss-recovery.js';
import { ReconstructionTotals } from './reconstruction-totals.js';
import { decompositionEvaluation, type DecompositionEvaluation } from './decomposition-evaluation.js';

/** Held-out token batches, each [batch, seq] (int64 host tensors, or anything `toTokenTensor` takes); batches may differ in shape. */
export type TokenBatches = Iterable<TokenInput> | AsyncIterable<TokenInput>;

/** A decomposition with its trained tensors in host memory (a trainer's DecompositionSnapshot fits). */
export interface DecompositionTensors {
  readonly decomposition: Decomposition;
  readonly params: Readonly<Record<string, HostTensor>>;
  readonly state: Readonly<Record<string, HostTensor>>;
}

export interface DecompositionEvaluatorOptions {
  readonly model: HookedTransformer;
  /** The backend the model runs on: its weights are this backend's tensors. */
  readonly backend: Backend;
  /**
   * Leave positions holding BOS out of the activation metrics (explained
   * variance, normalised MSE, L0, densities); the losses always cover every
   * position. Default false: the reference evaluates every position, BOS
   * included, although BOS activations have outlier norms.
   */
  readonly excludeBos?: boolean;
  /** Default 'forward', as the reference (see ReconstructionMode). */
  readonly reconstruction?: ReconstructionMode;
  /** Default 'replacement' (see SplicedInputs); matters only for decompositions that write several hooks. */
  readonly splicedInputs?: SplicedInputs;
  /** Also report each feature's activation sum (`feature_activation_sums`, for mean activations); default false. */
  readonly featureActivationSums?: boolean;
}

const RECONSTRUCTION_MODES: readonly ReconstructionMode[] = ['forward', 'infer'];
const SPLICED_INPUTS: readonly SplicedInputs[] = ['replacement', 'clean_inputs'];

/**
 * Evaluates decompositions, each spliced into the model at the hooks it
 * writes, on token batches with one compiled
 * program per batch (see buildEvaluationGraph): original, reconstructed,
 * zero- and mean-ablated losses and the reconstruction sums, all from one
 * run. Programs are kept between calls, so evaluating every few thousand
 * training steps compiles once.
 */
export class DecompositionEvaluator {
  readonly model: HookedTransformer;
  private readonly backend: Backend;
  private readonly reconstruction: ReconstructionMode;
  private readonly splicedInputs: SplicedInputs;
  private readonly excludedTokenId: number | undefined;
  private readonly featureActivationSums: boolean;
  private readonly programs = new Map<string, Promise<CompiledEvaluation>>();
  private readonly decompositionIds = new WeakMap<Decomposition, number>();
  private nextDecompositionId = 0;

  constructor(options: DecompositionEvaluatorOptions) {
    const { model, backend, reconstruction = 'forward', splicedInputs = 'replacement', excludeBos = false } = options;
    if (backend !== model.backend) {
      throw new ConfigError(
        `evaluation: the backend passed is not the model's (${model.backend.name}); the model's weights live on its own backend, so pass model.backend or load the model with this backend.`,
      );
    }
    if (!RECONSTRUCTION_MODES.includes(reconstruction)) {
      throw new ConfigError(`evaluation: reconstruction '${String(reconstruction)}' is not one of ${RECONSTRUCTION_MODES.map((mode) => `'${mode}'`).join(', ')}.`);
    }
    if (!SPLICED_INPUTS.includes(splicedInputs)) {
      throw new ConfigError(`evaluation: splicedInputs '${String(splicedInputs)}' is not one of ${SPLICED_INPUTS.map((mode) => `'${mode}'`).join(', ')}.`);
    }
    let excludedTokenId: number | undefined;
    if (excludeBos) {
      excludedTokenId = model.tokenizer?.bosTokenId ?? model.config.bosTokenId;
      if (excludedTokenId === undefined) {
        throw new ConfigError('evaluation: excludeBos is set, but neither the model config nor its tokenizer names a BOS token id; pass excludeBos: false.');
      }
    }
    this.model = model;
    this.backend = backend;
    this.reconstruction = reconstruction;
    this.splicedInputs = splicedInputs;
    this.excludedTokenId = excludedTokenId;
    this.featureActivationSums = options.featureActivationSums === true;
  }

  /** One result per decomposition, in order; all are evaluated on the same batches in the same runs. */
  async evaluate(members: readonly DecompositionTensors[], tokenBatches: TokenBatches): Promise<DecompositionEvaluation[]> {
    const { program, ablationGroups } = await this.program(
      members.map(({ decomposition, params, state }) => ({
        decomposition,
        params: mapValues(params, specOf),
        state: mapValues(state, specOf),
      })),
    );
    const { config } = this.model;
    const modelFeeds = await this.model.parameterFeeds(program.inputNames);
    const memberFeeds: Record<string, DeviceTensor> = {};
    const lossSums = { original: 0, zeroAblation: members.map(() => 0), meanAblation: members.map(() => 0), reconstructed: members.map(() => 0) };
    const agreements = members.map(() => 0);
    const klSums = { zeroAblation: members.map(() => 0), reconstructed: members.map(() => 0) };
    let positions = 0;
    const totals = members.map(() => new ReconstructionTotals());
    // Per written hook, for decompositions that write several (their per-layer explained variance and MSE).
    const hookTotals = members.map(({ decomposition }) => (decomposition.writes.length > 1 ? decomposition.writes.map(() => new ReconstructionTotals()) : []));
    let predictedTokens = 0;
    let batches = 0;
    try {
      for (const [index, { params, state }] of members.entries()) {
        for (const [name, tensor] of Object.entries(params)) memberFeeds[memberInputName(index, 'param', name)] = await this.backend.upload(tensor);
        for (const [name, tensor] of Object.entries(state)) memberFeeds[memberInputName(index, 'state', name)] = await this.backend.upload(tensor);
      }
      for await (const input of tokenBatches) {
        const tokens = toTokenTensor(input, config.vocabSize);
        const [rows, length] = tokens.shape;
        if (length < 2 || length > config.contextLength) {
          throw new ShapeError(`evaluation: batch ${batches} has sequences of ${length} tokens; the loss needs at least 2 and the model takes at most ${config.contextLength}.`);
        }
        const feeds: Record<string, Feed> = { ...modelFeeds, ...memberFeeds, [TOKENS_INPUT]: tokens };
        const outputs = await program.run(feeds);
        const host: Record<string, HostTensor> = {};
        for (const [name, tensor] of Object.entries(outputs)) {
          host[name] = await tensor.toHost();
          tensor.dispose();
        }
        const scalar = (name: string) => Number(host[name].data[0]);
        // Each batch's loss is a mean over its predictions; weighting by them makes the total a mean over all.
        const predictions = rows * (length - 1);
        predictedTokens += predictions;
        positions += rows * length;
        lossSums.original += scalar(EVALUATION_OUTPUTS.originalLoss) * predictions;
        for (const [index, memberTotals] of totals.entries()) {
          const group = ablationGroups[index];
          lossSums.zeroAblation[index] += scalar(EVALUATION_OUTPUTS.zeroAblationLoss(group)) * predictions;
          lossSums.meanAblation[index] += scalar(EVALUATION_OUTPUTS.meanAblationLoss(group)) * predictions;
          lossSums.reconstructed[index] += scalar(EVALUATION_OUTPUTS.reconstructedLoss(index)) * predictions;
          agreements[index] += scalar(EVALUATION_OUTPUTS.top1Agreements(index));
          klSums.zeroAblation[index] += scalar(EVALUATION_OUTPUTS.zeroAblationKl(group));
          klSums.reconstructed[index] += scalar(EVALUATION_OUTPUTS.reconstructedKl(index));
          memberTotals.add({
            count: scalar(EVALUATION_OUTPUTS.count),
            sum: host[EVALUATION_OUTPUTS.sum(group)].data as Float32Array,
            centeredSquareSum: scalar(EVALUATION_OUTPUTS.centeredSquareSum(group)),
            squareSum: scalar(EVALUATION_OUTPUTS.squareSum(group)),
            squaredErrorSum: scalar(EVALUATION_OUTPUTS.squaredErrorSum(index)),
            firingCounts: host[EVALUATION_OUTPUTS.firingCounts(index)].data as Float32Array,
            ...(this.featureActivationSums ? { activationSums: host[EVALUATION_OUTPUTS.activationSums(index)].data as Float32Array } : {}),
          });
          hookTotals[index].forEach((hookTotal, position) => {
            const sum = (kind: Parameters<typeof EVALUATION_OUTPUTS.hookSum>[2]) => host[EVALUATION_OUTPUTS.hookSum(index, position, kind)];
            hookTotal.add({
              count: scalar(EVALUATION_OUTPUTS.count),
              sum: sum('sum').data as Float32Array,
              centeredSquareSum: Number(sum('centered_square_sum').data[0]),
              squareSum: Number(sum('square_sum').data[0]),
              squaredErrorSum: Number(sum('squared_error_sum').data[0]),
              firingCounts: new Float32Array(0),
            });
          });
        }
        batches++;
      }
    } finally {
      for (const tensor of Object.values(memberFeeds)) tensor.dispose();
    }
    if (batches === 0) {
      throw new ConfigError('evaluation: tokenBatches yielded no batches. An iterator is used up after one evaluation; pass an array, or a function that returns fresh batches each time.');
    }
    return totals.map((memberTotals, index) => {
      const reconstruction = memberTotals.metrics();
      if (reconstruction.evaluatedTokens === 0) {
        throw new ConfigError(`evaluation: every position of the ${batches} batches holds BOS (token ${this.excludedTokenId}), so excludeBos left nothing to measure; evaluate longer sequences.`);
      }
      const losses = {
        original: lossSums.original / predictedTokens,
        reconstructed: lossSums.reconstructed[index] / predictedTokens,
        zeroAblation: lossSums.zeroAblation[index] / predictedTokens,
        meanAblation: lossSums.meanAblation[index] / predictedTokens,
      };
      const perHook =
        hookTotals[index].length === 0
          ? undefined
          : Object.fromEntries(
              members[index].decomposition.writes.map(({ hook }, position) => {
                const metrics = hookTotals[index][position].metrics();
                return [hook, { explained_variance: metrics.explainedVariance, mse: metrics.mse }];
              }),
            );
      // Every position has a next-token distribution (the last one too), so the KL divergences are means over all positions, as SAELens takes them.
      const kl = { reconstructed: klSums.reconstructed[index] / positions, zeroAblation: klSums.zeroAblation[index] / positions };
      return decompositionEvaluation(losses, lossRecovery(losses), reconstruction, batches, agreements[index] / positions, perHook, kl);
    });
  }

  /** Releases the compiled programs (the model's weights stay, they are the model's). */
  async dispose(): Promise<void> {
    const programs = [...this.programs.values()];
    this.programs.clear();
    await Promise.all(programs.map(async (compiled) => (await compiled.catch(() => undefined))?.program.dispose()));
  }

  /** The program for these decompositions and tensor shapes; decompositions are told apart by identity, since configs need not serialise. */
  private program(members: readonly EvaluatedDecomposition[]): Promise<CompiledEvaluation> {
    const key = JSON.stringify(members.map(({ decomposition, params, state }) => [this.decompositionId(decomposition), params, state]));
    let program = this.programs.get(key);
    if (!program) {
      program = (async () => {
        const { graph, outputs, ablationGroups } = buildEvaluationGraph({
          model: this.model,
          members,
          reconstruction: this.reconstruction,
          splicedInputs: this.splicedInputs,
          excludedTokenId: this.excludedTokenId,
          featureActivationSums: this.featureActivationSums,
        });
        return { program: await this.backend.compile(graph, { outputs, hostOutputs: Object.keys(outputs) }), ablationGroups };
      })();
      this.programs.set(key, program);
      program.catch(() => this.programs.delete(key));
    }
    return program;
  }

  private decompositionId(decomposition: Decomposition): number {
    let id = this.decompositionIds.get(decomposition);
    if (id === undefined) {
      id = this.nextDecompositionId++;
      this.decompositionIds.set(decomposition, id);
    }
    return id;
  }
}

function mapValues<In, Out>(record: Readonly<Record<string, In>>, map: (value: In) => Out): Record<string, Out> {
  return Object.fromEntries(Object.entries(record).map(([name, value]) => [name, map(value)]));
}

interface CompiledEvaluation {
  readonly program: Program;
  readonly ablationGroups: readonly number[];
}
