import type { HostTensor } from './dtype.js';
import { ConfigError } from './errors/config-error.js';
import type { Graph } from './graph.js';
import type { Rng } from './rng.js';
import type { Tensor } from './tensor.js';

export type TensorMap = Record<string, Tensor>;

/** The version of the contract below; the trainer refuses decompositions written against another. */
export const DECOMPOSITION_SPECIFICATION_VERSION = 'nnd-decomposition-v2';

/**
 * An activation stream a decomposition reads or writes: a hook name when the
 * decomposition is bound to a model (`blocks.2.ln2.hook_normalized`), any
 * name otherwise, and its width. An SAE reads and writes one stream; a
 * transcoder reads the MLP input and writes the MLP output; a cross-layer
 * transcoder reads and writes one stream per layer.
 */
export interface ActivationPort {
  readonly hook: string;
  readonly width: number;
  /**
   * The element type of the stream; default float32. A decomposition trained
   * through a model's own forward pass reads token ids: an int64 [rows, seq]
   * stream whose "width" is the sequence length.
   */
  readonly dtype?: 'float32' | 'int64';
}

/**
 * One batch as the forward pass gets it: [rows, width] tensors keyed by
 * hook name. A hook that is both read and written (an SAE's) appears in both
 * maps as the same tensor.
 */
export interface DecompositionBatch {
  /** One tensor per port of `reads`. */
  readonly inputs: TensorMap;
  /** One tensor per port of `writes`: what the outputs should reproduce. */
  readonly targets: TensorMap;
}

/** What a decomposition's forward pass returns (typed, not a loose dictionary). */
export interface ForwardOutput {
  /** One [rows, width] tensor per port of `writes`, keyed by hook: what replaces that hook in the model. */
  outputs: TensorMap;
  /** [rows, features] (all of the decomposition's features, concatenated when it has groups of them). */
  featureActs: Tensor;
  /** Scalars summed into `loss`. Names are the dashboard names (`l2_loss`, `aux_loss`, ...). */
  losses: Record<string, Tensor>;
  /** Scalars logged but not optimised (`l0_norm`, `l1_norm`, ...). */
  metrics: Record<string, Tensor>;
  /** The non-trained state after this batch (one entry per state tensor). */
  nextState: TensorMap;
}

/** Per-sample inference: what evaluation splices in when samples must not share a budget (BatchTopK's running threshold). */
export interface InferenceOutput {
  /** One tensor per port of `writes`, shaped like the inputs ([..., width]). */
  outputs: TensorMap;
  /** [..., features]. */
  featureActs: Tensor;
  /**
   * Optional: featureActs in sparse form, for consumers that read only its
   * non-zero entries (feature dashboards), when the decomposition keeps a
   * fixed number per sample (TopK). Its dense featureActs is then never
   * computed unless asked for.
   */
  keptFeatures?: KeptFeatures;
}

/**
 * A sample's kept (feature, value) pairs: `indices` (int64) and `values`,
 * both [..., k]; featureActs[..., indices[..., j]] = values[..., j] and every
 * other feature is 0. Indices are distinct within a sample; a value may be 0
 * (a TopK sample with fewer than k positive pre-activations).
 */
export interface KeptFeatures {
  readonly indices: Tensor;
  readonly values: Tensor;
}

/**
 * Options for `inferOutputs` that comparisons across decompositions need; a
 * decomposition lists the ones it honours in `inferenceOptions` and ignores
 * the rest.
 */
export interface InferenceOptions {
  /**
   * Keep at most this many features per sample in each module (the feature
   * groups of one label, see `featureGroups`), the largest activations first, in place of the
   * decomposition's own sparsity: the synthetic per-token top-k sweep of a
   * Pareto comparison.
   */
  readonly topK?: number;
  /** The `name` of one of the decomposition's `evaluationOptions` (SPD's `ci_0`, `no_delta`); absent: its default evaluation. */
  readonly option?: string;
}

/**
 * A labelled alternative to a decomposition's default evaluation, which
 * comparisons evaluate beside it through `inferOutputs(..., { option: name })`:
 * a second correct view (SPD's masks at CI > 0 besides CI > 0.5) or the
 * reference's way of evaluating it (SPD without its delta component).
 */
export interface EvaluationOption {
  readonly name: string;
  /** Its name in tables and legends when it is a second correct view (`CI > 0`); absent when the quirks say all. */
  readonly variant?: string;
  /** The reference's evaluation quirks it reproduces (`no_delta`, DECOMPOSITIONS.md 11); empty for a correct evaluation. */
  readonly quirks: readonly string[];
  /** Whether the top-k sweep is evaluated with it too; false where top-k replaces what it changes (a CI threshold). */
  readonly topK: boolean;
}

/**
 * A decomposition's per-position feature values for a feature dashboard, when
 * they are not its featureActs on hook rows (see `Decomposition.dashboardValues`).
 */
export interface DashboardValues {
  /** [positions, features], positions being the token batch [batch, seq] flattened row-major. */
  readonly values: Tensor;
  /** What a value is, as the page names it ('causal importance'). */
  readonly valueLabel: string;
  /** One name per feature (`blocks.0.mlp.W_in:17`) for the page; absent: features are known by index alone. */
  readonly featureNames?: readonly string[];
}

/** A decomposition with the tensors it runs on, as `streamReplacement` returns them. */
export interface DecompositionWithParams {
  readonly decomposition: Decomposition;
  readonly params: Record<string, HostTensor>;
}

/**
 * A set of the columns of `featureActs` that share a role: one layer of a
 * cross-layer transcoder, one module of a parameter decomposition, the whole
 * dictionary of an SAE. Comparisons report sparsity per group and weigh it by
 * what an active feature of the group costs.
 */
export interface FeatureGroup {
  /**
   * The module the group's features belong to, in tables: the MLP output a
   * transcoder or a CLT layer's features are read from
   * (`blocks.2.hook_mlp_out`), a weight matrix. Groups with the same label
   * (a MOLT's rank groups) are one module: per-module statistics add them
   * up, and `topK` selects over them together.
   */
  readonly label: string;
  /** Its columns of featureActs: the groups lie side by side in the order given. */
  readonly size: number;
  /** How many of the decomposition's written streams (MLPs) one active feature writes to: 1 for a transcoder, n - i for a CLT's layer i of n. */
  readonly streamsWritten: number;
  /** Parameters one active feature brings into play: d_in + d_out for a transcoder's, d_in + (n - i) d_out for a CLT's layer i. */
  readonly activeParameters: number;
}

/** A feature group with what an evaluation measured on it: what @nnd/train's comparison hands @nnd/results' tables and axes. */
export interface MeasuredFeatureGroup extends Omit<FeatureGroup, 'activeParameters'> {
  /** Undefined when the decomposition does not say. */
  readonly activeParameters?: number;
  /** Features that fired (> 0) at least once on the evaluated tokens. */
  readonly alive: number;
  /** Mean active features per token: ℓ_g. */
  readonly l0: number;
  /** Mean of the activations that are > 0. */
  readonly meanActivation?: number;
}

/** A column of a runs table: how runs of this decomposition differ from each other (`top_k`, `l1_coeff`, ...). */
export interface DescribedValue {
  readonly key: string;
  readonly value: string | number | boolean;
}

/** How the trainer asks for a cheaper forward pass, and what else it feeds a step beyond the batch. */
export interface ForwardOptions {
  /** The name of one of the decomposition's `variants`; absent for the full forward. */
  readonly variant?: string;
  /** One graph input per tensor of `frozenInputs()`, by the same name: a frozen model's weights. */
  readonly frozen?: TensorMap;
  /** One float32 tensor of U[0, 1) values per entry of `randomInputs(rows)`, drawn afresh on the host for every step. */
  readonly random?: TensorMap;
  /**
   * The fraction of training done before this step, a float32 scalar in
   * [0, 1): step / total steps (0-based step), for schedules inside the
   * forward pass such as an annealed exponent.
   */
  readonly progress?: Tensor;
}

/** Parameters whose gradients are clipped together, to their own global norm (see Decomposition.gradientGroups). */
export interface GradientGroup {
  /** Parameter names (keys of `initialParams`). */
  readonly params: readonly string[];
  /** The group's gradients are scaled down when their global norm exceeds this; absent: not clipped. */
  readonly maxGradNorm?: number;
}

/**
 * A cheaper forward pass that gives the same losses, gradients and next state
 * as the full one whenever `applies` holds, e.g. TopK without the auxiliary
 * loss while no feature can be dead after this batch (the reference skips it
 * then). Static graphs cannot branch on data, so the trainer compiles one
 * program per variant and picks before each step.
 */
export interface ForwardVariant {
  readonly name: string;
  /**
   * Decides from the metrics of the step before (this decomposition's own,
   * unsuffixed names) whether the variant is exact for the next step. Asked
   * before every step but a run's first, which has no step before it.
   */
  applies(previousMetrics: Readonly<Record<string, number>>): boolean;
  /**
   * Optional: decides from the state a run starts from (`initialState()`, the
   * state given or a checkpoint's) whether the variant is exact for the run's
   * first step, e.g. TopK while every dead-feature counter is below
   * n_batches_to_dead - 1, as in a fresh run. Asked only when the trainer
   * has no metrics of the step before (a checkpoint records them). Absent: a
   * run's first step takes the full forward.
   */
  appliesAtStart?(state: Readonly<Record<string, HostTensor>>): boolean;
}

/**
 * The contract between a decomposition and the trainer. It lives in core so
 * that the trainer depends on it and never on a decomposition package: a new
 * decomposition plugs into the unchanged trainer, logger and results.
 */
export interface Decomposition<Config = unknown> {
  /** Which contract this object implements: DECOMPOSITION_SPECIFICATION_VERSION. */
  readonly specificationVersion: typeof DECOMPOSITION_SPECIFICATION_VERSION;
  /** Architecture id saved in files (`'topk'`, `'jumprelu'`, `'topk_transcoder'`, ...). */
  readonly architecture: string;
  readonly config: Config;
  /** The streams the forward pass reads (the batch's `inputs`), in a fixed order. */
  readonly reads: readonly ActivationPort[];
  /**
   * The streams it reproduces (the batch's `targets`, its `outputs`); evaluation splices the outputs in at these hooks.
   * Empty for a decomposition of a model's weights, which reproduces the model's own output inside `forward`.
   */
  readonly writes: readonly ActivationPort[];
  /**
   * What tells this run apart from others of its kind, for run names and
   * results tables: the architecture plus its swept values (`top_k` for
   * TopK, `l1_coeff` for L1 and JumpReLU). Defaults to the architecture alone.
   */
  describe?(): readonly DescribedValue[];
  /** Initial trained parameters, drawn in JS from `rng`. */
  initialParams(rng: Rng): Record<string, HostTensor>;
  /**
   * Optional: the deterministic rest of the initialisation, applied to what
   * `initialParams` drew (SPD's faithfulness warm-up). The trainer applies it
   * only to parameters it draws itself; a run given its initial parameters
   * (`initialTensors`, such as `initialTrainingParams`' result) or resumed
   * from a checkpoint starts from them as they are, so the work runs once.
   * Returns new tensors, leaving `drawn` unchanged.
   */
  prepareInitialParams?(drawn: Readonly<Record<string, HostTensor>>): Record<string, HostTensor>;
  /** Initial non-trained state (dead-feature counters, running thresholds). */
  initialState(): Record<string, HostTensor>;
  forward(graph: Graph, batch: DecompositionBatch, params: TensorMap, state: TensorMap, options?: ForwardOptions): ForwardOutput;
  /** Per-sample inference over inputs keyed like `reads` ([..., width] each); decompositions whose forward couples samples offer it. */
  inferOutputs?(graph: Graph, inputs: TensorMap, params: TensorMap, state: TensorMap, options?: InferenceOptions): InferenceOutput;
  /** The InferenceOptions that `inferOutputs` honours; it ignores any other. */
  readonly inferenceOptions?: readonly (keyof InferenceOptions)[];
  /**
   * True when `forward` couples the rows of a batch (BatchTopK's shared
   * budget), so that splicing in its forward and its `inferOutputs` differ;
   * comparisons then evaluate both.
   */
  readonly forwardCouplesSamples?: boolean;
  /**
   * Its parameters with the encoder bias zeroed, for the types whose
   * encoder bias the reference's evaluation code leaves out (TopK and
   * BatchTopK transcoders: their checkpoints were trained with it, so this is
   * a known quirk that comparisons offer as a labelled option). Absent where
   * there is nothing to leave out.
   */
  withoutEncoderBias?(params: Readonly<Record<string, HostTensor>>): Record<string, HostTensor>;
  /** Labelled alternatives to its default evaluation, for comparisons (see EvaluationOption); `inferOutputs` honours `option`. */
  readonly evaluationOptions?: readonly EvaluationOption[];
  /**
   * Optional, for a decomposition of a model's weights (it writes no stream:
   * SPD): the same decomposition as replacements of the streams around the
   * matrices it decomposes, one per block (SPD of MLP matrices reads
   * `blocks.L.ln2.hook_normalized` and writes `blocks.L.hook_mlp_out` by
   * running the MLP with its component products), so that comparisons
   * splice it in like any other. `params` are its trained tensors; each
   * replacement's params are its share of them plus the model tensors it
   * reads (frozen weights).
   */
  streamReplacement?(params: Readonly<Record<string, HostTensor>>): readonly DecompositionWithParams[];
  /** How featureActs' columns split into groups (layers, modules), for per-group statistics and sparsity axes. */
  featureGroups?(): readonly FeatureGroup[];
  /**
   * Optional: what each feature adds to each written hook, as one
   * [features, width] tensor per written hook it writes to (an SAE's or a
   * transcoder's decoder rows; a CLT's per-layer decoders). Feature
   * dashboards project these through the model's unembedding to show the
   * tokens a feature promotes and suppresses; decompositions without it get
   * dashboards without logit effects. Omit a hook a feature cannot write to.
   */
  decoderDirections?(graph: Graph, params: TensorMap): TensorMap;
  /**
   * Optional, for a decomposition whose features are not read from hook rows
   * (SPD's components, whose value per token is the causal importance the
   * model's forward pass gives them): its dashboard values. `inputs` are keyed
   * like `reads`: a float32 port's hook as [positions, width] rows, an int64
   * port the token ids [batch, seq] themselves; `frozen` holds one input per
   * tensor of `frozenInputs()`. Feature dashboards use it in place of
   * featureActs, with its value label and feature names.
   */
  dashboardValues?(graph: Graph, inputs: TensorMap, params: TensorMap, frozen: TensorMap): DashboardValues;
  /** Cheaper forwards, tried in order before each training step; the first that applies is used. */
  readonly variants?: readonly ForwardVariant[];
  /**
   * Optional: tensors the step reads but never trains or saves (a frozen
   * model's weights). The trainer uploads them once and feeds them to every
   * step as `options.frozen`.
   */
  frozenInputs?(): Record<string, HostTensor>;
  /**
   * Optional: the shapes of the random tensors one step needs for a batch of
   * `rows` rows (stochastic masks). The trainer draws them from the member's
   * seeded Rng before every step (so a resumed run draws what an unbroken
   * one would) and feeds them as `options.random`.
   */
  randomInputs?(rows: number): Record<string, readonly number[]>;
  /**
   * Optional: groups of parameters clipped separately, each to its own norm
   * (a decomposition's components and its gates). Parameters in no group are
   * clipped together to the train config's `max_grad_norm`.
   */
  gradientGroups?(): readonly GradientGroup[];
  /**
   * Applied between gradient clipping and the optimizer step, e.g. decoder
   * rows kept at unit norm with the gradient's radial part removed.
   */
  constrain?(graph: Graph, params: TensorMap, gradients: TensorMap): { params: TensorMap; gradients: TensorMap };
}

export interface DecompositionDefinition<Config> {
  architecture: string;
  /** Parses and validates a user config (zod in practice), throwing ConfigError. */
  parseConfig(config: unknown): Config;
  create(config: Config): Decomposition<Config>;
}

/** Declares a decomposition type; registries are built from explicit lists of these. */
export function defineDecomposition<Config>(definition: DecompositionDefinition<Config>): DecompositionDefinition<Config> {
  return definition;
}

export type DecompositionRegistry = ReadonlyMap<string, DecompositionDefinition<unknown>>;

/** Builds a registry from an explicit list; duplicate architectures throw. */
// biome-ignore lint/suspicious/noExplicitAny: each definition has its own config type; the registry only dispatches on architecture.
export function createDecompositionRegistry(definitions: readonly DecompositionDefinition<any>[]): DecompositionRegistry {
  const registry = new Map<string, DecompositionDefinition<unknown>>();
  for (const definition of definitions) {
    if (registry.has(definition.architecture)) {
      throw new ConfigError(`Decomposition architecture '${definition.architecture}' is defined twice; architecture ids must be unique.`);
    }
    registry.set(definition.architecture, definition);
  }
  return registry;
}

export function lookupDecomposition(registry: DecompositionRegistry, architecture: string): DecompositionDefinition<unknown> {
  const definition = registry.get(architecture);
  if (!definition) {
    throw new ConfigError(`Unknown decomposition architecture '${architecture}'; known: ${[...registry.keys()].join(', ')}.`);
  }
  return definition;
}

/**
 * Checks what the trainer, the store and evaluation rely on: the contract
 * version, at least one port each way, each hook once per side, positive
 * integer widths. `where` names the caller in the message.
 */
export function checkDecomposition(decomposition: Decomposition, where: string): void {
  const label = `${where}: decomposition '${decomposition?.architecture}'`;
  if (decomposition?.specificationVersion !== DECOMPOSITION_SPECIFICATION_VERSION) {
    throw new ConfigError(
      `${label} has specificationVersion ${JSON.stringify(decomposition?.specificationVersion)}; this version of nnd takes '${DECOMPOSITION_SPECIFICATION_VERSION}' ` +
        '(declare reads, writes, and a forward(graph, { inputs, targets }, ...) that returns outputs per written hook; see the Decomposition type in @nnd/core).',
    );
  }
  for (const side of ['reads', 'writes'] as const) {
    const ports = decomposition[side];
    // A decomposition of weights reads the model's inputs and writes no stream of its own.
    if (!Array.isArray(ports) || (side === 'reads' && ports.length === 0)) throw new ConfigError(`${label} ${side} no stream; declare at least one { hook, width } in ${side}.`);
    const seen = new Set<string>();
    for (const port of ports) {
      if (typeof port?.hook !== 'string' || port.hook === '' || !Number.isInteger(port.width) || port.width < 1) {
        throw new ConfigError(`${label}: ${side} entry ${JSON.stringify(port)} is not { hook: a non-empty string, width: an integer >= 1 }.`);
      }
      if (port.dtype !== undefined && port.dtype !== 'float32' && port.dtype !== 'int64') {
        throw new ConfigError(`${label}: ${side} entry '${port.hook}' has dtype ${JSON.stringify(port.dtype)}; streams are 'float32' (the default) or 'int64' (token ids).`);
      }
      if (seen.has(port.hook)) throw new ConfigError(`${label} lists hook '${port.hook}' twice in ${side}; each hook once.`);
      seen.add(port.hook);
    }
  }
}

/**
 * The distinct streams that decompositions read or write, each hook once:
 * what one model run (or one cache) must provide for all of them. A hook
 * declared with two widths is an error, since one run gives it one width.
 */
export function streamsOf(decompositions: readonly Decomposition[]): ActivationPort[] {
  const widths = new Map<string, ActivationPort>();
  for (const decomposition of decompositions) {
    for (const port of [...decomposition.reads, ...decomposition.writes]) {
      const known = widths.get(port.hook);
      if (known !== undefined && known.width !== port.width) {
        throw new ConfigError(`Hook '${port.hook}' is declared with width ${known.width} and with width ${port.width} by the decompositions trained together; one hook has one width.`);
      }
      if (known !== undefined && (known.dtype ?? 'float32') !== (port.dtype ?? 'float32')) {
        throw new ConfigError(`Hook '${port.hook}' is declared as ${known.dtype ?? 'float32'} and as ${port.dtype ?? 'float32'} by the decompositions trained together; one hook has one type.`);
      }
      widths.set(port.hook, port);
    }
  }
  return [...widths].map(([hook, { width, dtype }]) => (dtype === undefined ? { hook, width } : { hook, width, dtype }));
}

/** The text that tells a run apart: `topk k=32`, from `describe()` or the architecture alone. */
export function describeDecomposition(decomposition: Decomposition): readonly DescribedValue[] {
  return decomposition.describe?.() ?? [{ key: 'architecture', value: decomposition.architecture }];
}
