import {
  GraphError,
  adamCorrections,
  add,
  cast,
  clippedAdamStep,
  div,
  grad,
  Graph,
  streamsOf,
  sub,
  type AdamHyperparameters,
  type Decomposition,
  type DType,
  type ForwardOptions,
  type HostTensor,
  type Tensor,
  type TensorMap,
} from '@nnd/core';
import { isConstantSchedule, scaledAdamCorrections, type LrSchedule } from './lr-schedule.js';
import { batchInputName, frozenInputName, lrScaleInputName, metricOutputName, randomInputName, STEP_INPUT, stateInputName, stateOutputName } from './step-names.js';

/** Shape and dtype of one tensor the program carries from step to step. */
export interface TensorSpec {
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/** One decomposition of the group with its own optimizer settings. */
export interface StepMember {
  readonly decomposition: Decomposition;
  readonly params: Readonly<Record<string, TensorSpec>>;
  readonly state: Readonly<Record<string, TensorSpec>>;
  readonly adam: AdamHyperparameters;
  readonly maxGradNorm: number;
  /** Absent or constant: Adam's rate is `adam.lr` at every step; otherwise a float64 factor is fed per step (lrScaleInputName). */
  readonly lrSchedule?: LrSchedule;
  /** Shapes and dtypes of the decomposition's frozenInputs, fed as frozenInputName inputs. */
  readonly frozen?: Readonly<Record<string, TensorSpec>>;
}

/** What the step needs beyond the members: the run's length (for `progress`). */
export interface StepOptions {
  /** The run's optimizer steps; `progress` = (step - 1) / totalSteps. Default 1. */
  readonly totalSteps?: number;
}

export interface TrainingStep {
  readonly graph: Graph;
  /** Every output by program name: next params, moments, state, and the metrics. */
  readonly outputs: Record<string, Tensor>;
  /** Per member: metric name (`loss`, `l2_loss`, ...) to program output name. */
  readonly metricOutputs: readonly Record<string, string>[];
}

/** Adam's epsilon, fixed at torch.optim.Adam's default as in the seed. */
export const ADAM_EPSILON = 1e-8;

export function specOf(tensor: HostTensor): TensorSpec {
  return { shape: [...tensor.shape], dtype: tensor.dtype };
}

/**
 * Builds one training step for a group of decompositions that share a batch
 * (one [batchSize, width] input per stream they read or write, see
 * batchInputName) as a single graph: forward, losses summed into `loss`, gradients, global
 * norm clipping per member, the member's constraint, Adam, the next state and
 * the metrics. Members are independent: the gradient of the summed losses
 * with respect to one member's parameters is that member's own gradient.
 * Every variant has the same inputs and outputs, so programs built for
 * different variants take each other's outputs as feeds.
 */
export function buildTrainingStep(
  members: readonly StepMember[],
  /** Rows per batch; a number, or a symbol for programs that take any batch size. */
  batchSize: number,
  /** Per member, the forward variant to build (see Decomposition.variants); absent or undefined for the full forward. */
  variants: readonly (string | undefined)[] = [],
  stepOptions: StepOptions = {},
): TrainingStep {
  if (members.length === 0) throw new GraphError('buildTrainingStep: the group is empty; pass at least one decomposition.');
  const graph = new Graph();
  const streams = Object.fromEntries(
    streamsOf(members.map(({ decomposition }) => decomposition)).map(({ hook, width, dtype }) => [hook, graph.input(batchInputName(hook), [batchSize, width], dtype ?? 'float32')]),
  );
  const pick = (ports: Decomposition['reads']): TensorMap => Object.fromEntries(ports.map(({ hook }) => [hook, streams[hook]]));
  const step = graph.input(STEP_INPUT, [], 'float64');
  // Built only when a forward reads it, so the programs of decompositions that do not are unchanged.
  let progress: Tensor | undefined;
  const progressTensor = () => (progress ??= cast(div(sub(step, graph.scalar(1, 'float64')), graph.scalar(stepOptions.totalSteps ?? 1, 'float64')), 'float32'));
  const outputs: Record<string, Tensor> = {};
  const metricOutputs: Record<string, string>[] = [];

  const inputsOf = (index: number, kind: 'param' | 'adam_m' | 'adam_v' | 'state', specs: Readonly<Record<string, TensorSpec>>) =>
    Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, graph.input(stateInputName(index, kind, name), [...spec.shape], spec.dtype)]));

  const forwards = members.map((member, index) => {
    const params = inputsOf(index, 'param', member.params);
    const state = inputsOf(index, 'state', member.state);
    const variant = variants[index];
    const { reads, writes } = member.decomposition;
    const batch = { inputs: pick(reads), targets: pick(writes) };
    const frozen = Object.fromEntries(Object.entries(member.frozen ?? {}).map(([name, spec]) => [name, graph.input(frozenInputName(index, name), [...spec.shape], spec.dtype)]));
    const randomShapes = member.decomposition.randomInputs?.(rowsOf(batchSize)) ?? {};
    const random = Object.fromEntries(Object.entries(randomShapes).map(([name, shape]) => [name, graph.input(randomInputName(index, name), [...shape], 'float32')]));
    const options: ForwardOptions = { ...(variant === undefined ? {} : { variant }), frozen, random };
    const forward = member.decomposition.forward(graph, batch, params, state, withProgress(options, progressTensor));
    const lossTerms = Object.values(forward.losses);
    if (lossTerms.length === 0) {
      throw new GraphError(`buildTrainingStep: decomposition ${index} ('${member.decomposition.architecture}') returned no losses; there is nothing to train.`);
    }
    const loss = lossTerms.reduce((sum, term) => add(sum, term));
    return { params, state, forward, loss };
  });

  const totalLoss = forwards.map(({ loss }) => loss).reduce((sum, loss) => add(sum, loss));
  const allParams = forwards.flatMap(({ params }) => Object.values(params));
  const allGradients = grad(totalLoss, allParams);

  let offset = 0;
  forwards.forEach(({ params, state, forward, loss }, index) => {
    const member = members[index];
    const names = Object.keys(params);
    const rawGradients: TensorMap = Object.fromEntries(names.map((name, position) => [name, allGradients[offset + position]]));
    offset += names.length;

    const { decomposition } = member;
    const corrections =
      member.lrSchedule === undefined || isConstantSchedule(member.lrSchedule)
        ? adamCorrections(step, member.adam)
        : scaledAdamCorrections(step, member.adam, graph.input(lrScaleInputName(index), [], 'float64'));
    const groups = decomposition.gradientGroups?.() ?? [];
    const { next } = clippedAdamStep({
      params,
      gradients: rawGradients,
      maxGradNorm: member.maxGradNorm,
      ...(groups.length > 0 ? { groups } : {}),
      corrections,
      adam: member.adam,
      moments: (name) => ({
        firstMoment: graph.input(stateInputName(index, 'adam_m', name), [...member.params[name].shape], member.params[name].dtype),
        secondMoment: graph.input(stateInputName(index, 'adam_v', name), [...member.params[name].shape], member.params[name].dtype),
      }),
      constrain:
        decomposition.constrain &&
        ((current, clipped) => {
          const constrained = decomposition.constrain!(graph, current, clipped);
          checkSameNames(names, constrained.params, `decomposition ${index}'s constrain() params`);
          checkSameNames(names, constrained.gradients, `decomposition ${index}'s constrain() gradients`);
          return constrained;
        }),
    });
    for (const name of names) {
      outputs[stateOutputName(index, 'param', name)] = next[name].param;
      outputs[stateOutputName(index, 'adam_m', name)] = next[name].firstMoment;
      outputs[stateOutputName(index, 'adam_v', name)] = next[name].secondMoment;
    }

    for (const name of Object.keys(forward.nextState)) {
      if (!(name in state)) {
        throw new GraphError(`buildTrainingStep: decomposition ${index}'s forward returned next state '${name}', which initialState() does not have (it has [${Object.keys(state).join(', ')}]).`);
      }
    }
    // State the forward pass leaves alone is carried over unchanged.
    for (const name of Object.keys(state)) outputs[stateOutputName(index, 'state', name)] = forward.nextState[name] ?? state[name];

    const metrics: Record<string, Tensor> = { loss, ...forward.losses };
    for (const [name, value] of Object.entries(forward.metrics)) {
      if (name in metrics) throw new GraphError(`buildTrainingStep: decomposition ${index} names '${name}' both as a loss and as a metric; use distinct names.`);
      metrics[name] = value;
    }
    const named: Record<string, string> = {};
    for (const [name, value] of Object.entries(metrics)) {
      if (value.rank !== 0) throw new GraphError(`buildTrainingStep: metric '${name}' of decomposition ${index} has shape [${value.shape.join(', ')}]; metrics and losses must be scalars.`);
      named[name] = metricOutputName(index, name);
      outputs[named[name]] = value;
    }
    metricOutputs.push(named);
  });
  return { graph, outputs, metricOutputs };
}

function checkSameNames(expected: readonly string[], actual: TensorMap, what: string): void {
  const actualNames = Object.keys(actual);
  if (actualNames.length !== expected.length || expected.some((name) => !(name in actual))) {
    throw new GraphError(`buildTrainingStep: ${what} are [${actualNames.join(', ')}], expected [${expected.join(', ')}].`);
  }
}

function rowsOf(batchSize: number): number {
  if (typeof batchSize !== 'number') throw new GraphError('buildTrainingStep: a decomposition with randomInputs needs a fixed batch size.');
  return batchSize;
}

/** The forward's options with `progress` as a getter, so that the graph gets the progress nodes only when a forward reads them. */
function withProgress(options: ForwardOptions, progress: () => Tensor): ForwardOptions {
  const result = { ...options };
  Object.defineProperty(result, 'progress', { get: progress, enumerable: true });
  return result;
}
