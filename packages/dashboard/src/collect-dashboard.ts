import {
  cast,
  hostTensor,
  ConfigError,
  Graph,
  mulDims,
  reshape,
  ShapeError,
  slice,
  streamsOf,
  type Decomposition,
  type DeviceTensor,
  type Feed,
  type HostTensor,
  type KeptFeatures,
  type Program,
  type Tensor,
  type TensorMap,
} from '@nnd/core';
import { toTokenTensor, TOKENS_INPUT, type HookedTransformer, type TokenInput } from '@nnd/models';
import { FeatureCollector, type FeatureStatistics } from './feature-collector.js';
import { logitEffects, type LogitEffects } from './logit-effects.js';
import { INITIAL_KEEP, KEEP_INPUT, mayOverflow, nextKeep, nonZeroPairs } from './non-zero-pairs.js';

/** Token batches [rows, seq] (int64 host tensors or anything `toTokenTensor` takes); shapes may differ between batches. */
export type DashboardTokenBatches = Iterable<TokenInput> | AsyncIterable<TokenInput>;

/** Features [start, end) of the decomposition's featureActs columns. */
export interface FeatureRange {
  readonly start: number;
  readonly end: number;
}

export interface CollectDashboardOptions {
  readonly model: HookedTransformer;
  readonly decomposition: Decomposition;
  readonly params: Readonly<Record<string, HostTensor>>;
  readonly state: Readonly<Record<string, HostTensor>>;
  readonly batches: DashboardTokenBatches;
  /** Default: every feature. */
  readonly features?: FeatureRange;
  /** Default 20. */
  readonly topExamples?: number;
  /** Default 20 (two per decile). */
  readonly quantileExamples?: number;
  /** Tokens each side of the maximum (default 16). */
  readonly window?: number;
  /** Positions holding this token are left out of the statistics (BOS). */
  readonly excludedTokenId?: number;
  readonly seed?: number;
  /**
   * Tokens per side of each feature's logit effects (default 10; 0 for none):
   * computed when the decomposition offers `decoderDirections` and writes a
   * residual-stream or MLP-output hook (see logitEffects).
   */
  readonly logitTokens?: number;
  /**
   * Read (feature, value) pairs instead of the dense featureActs (default
   * true): the decomposition's kept pairs (the contract's `keptFeatures`)
   * when its inference gives them, without the dense [positions, features]
   * tensor on the device or the host; else each position's non-zero values
   * selected on the device (nonZeroPairs), so only they reach the host. The
   * same dashboard either way; false reads the dense featureActs.
   */
  readonly sparse?: boolean;
  /** Called after each batch with the tokens collected so far (progress). */
  readonly onBatch?: (tokens: number) => void;
}

export interface DashboardData {
  readonly architecture: string;
  readonly reads: readonly string[];
  readonly writes: readonly string[];
  /** Columns of the decomposition's featureActs. */
  readonly featureCount: number;
  readonly range: FeatureRange;
  /** Tokens the statistics cover. */
  readonly tokens: number;
  readonly features: readonly DashboardFeature[];
  /** What a value is, when the decomposition says (its `dashboardValues`: 'causal importance' for SPD); the page's default is 'activation'. */
  readonly valueLabel?: string;
  /** One name per feature of `features` (`blocks.0.mlp.W_in:17`), when the decomposition names them. */
  readonly featureNames?: readonly string[];
}

/** A feature's statistics, with its logit effects when the decomposition gives directions. */
export type DashboardFeature = FeatureStatistics & { readonly logitEffects?: LogitEffects };

const FEATURE_ACTS = 'feature_acts';
const KEPT_INDICES = 'kept_indices';
const KEPT_VALUES = 'kept_values';
const FROZEN_PREFIX = 'frozen.';

/**
 * One pass of the model over token batches, collecting for each feature of
 * `features` its top and quantile examples, density and histogram (see
 * FeatureCollector). The program computes the hooks the decomposition reads
 * and its featureActs through the contract alone (its per-sample
 * `inferOutputs` when it has one, else `forward` with the written hooks as
 * targets), sliced to the range on the device so only those columns reach
 * the host. Tokens are [batch, seq] with symbolic sizes: one compiled
 * program serves every batch shape.
 */
export async function collectDashboard(options: CollectDashboardOptions): Promise<DashboardData> {
  const { model, decomposition, params, state } = options;
  const { graph, featureCount } = dashboardGraph(model, decomposition, params, state, options.features, { sparse: options.sparse ?? true });
  const range = options.features ?? { start: 0, end: featureCount };
  if (!(Number.isInteger(range.start) && Number.isInteger(range.end) && range.start >= 0 && range.end > range.start && range.end <= featureCount)) {
    throw new ConfigError(
      `dashboard: features ${range.start}-${range.end - 1} are not within the decomposition's ${featureCount} features (0-${featureCount - 1}); pick a range such as 0-${Math.min(featureCount, 256) - 1}.`,
    );
  }
  const backend = model.backend;
  const { kept } = graph;
  const columns = range.end - range.start;
  // Without the decomposition's own kept pairs, the non-zero values' pairs are selected on the device (see nonZeroPairs).
  const selected = kept === undefined && (options.sparse ?? true) ? nonZeroPairs(graph.output, range.start) : undefined;
  const pairs = kept ?? selected;
  const compile = (outputs: TensorMap) => backend.compile(graph.graph, { outputs, hostOutputs: Object.keys(outputs) });
  let program: Program = await compile(pairs === undefined ? { [FEATURE_ACTS]: graph.output } : { [KEPT_INDICES]: pairs.indices, [KEPT_VALUES]: pairs.values });
  /** Pairs per position the selection keeps; undefined once it gave way to the dense values. */
  let keep: number | undefined = selected === undefined ? undefined : Math.min(columns, INITIAL_KEEP);
  let dense: Program | undefined = pairs === undefined ? program : undefined;
  const collector = new FeatureCollector({
    firstFeature: range.start,
    features: range.end - range.start,
    topExamples: options.topExamples,
    quantileExamples: options.quantileExamples,
    window: options.window,
    excludedTokenId: options.excludedTokenId,
    seed: options.seed,
  });
  const uploaded: Record<string, DeviceTensor> = {};
  try {
    for (const [name, tensor] of Object.entries(params)) uploaded[`param.${name}`] = await backend.upload(tensor);
    for (const [name, tensor] of Object.entries(state)) uploaded[`state.${name}`] = await backend.upload(tensor);
    const frozenFeeds: Record<string, DeviceTensor> = {};
    for (const [name, tensor] of Object.entries(graph.frozen)) {
      // A frozen input that is the model's own weight (SPD's) shares the model's device copy instead of a second upload.
      const own = model.parameterNames.includes(name) && model.parameter(name) === tensor ? (await model.parameterFeeds([name]))[name] : undefined;
      if (own !== undefined) frozenFeeds[`${FROZEN_PREFIX}${name}`] = own;
      else uploaded[`${FROZEN_PREFIX}${name}`] = await backend.upload(tensor);
    }
    const modelFeeds = { ...(await model.parameterFeeds(program.inputNames)), ...frozenFeeds };
    let batches = 0;
    for await (const input of options.batches) {
      const tokens = toTokenTensor(input, model.config.vocabSize);
      const [rows, length] = tokens.shape as [number, number];
      if (length > model.config.contextLength) throw new ShapeError(`dashboard: batch ${batches} has sequences of ${length} tokens; the model takes at most ${model.config.contextLength}.`);
      const feeds: Record<string, Feed> = { ...modelFeeds, ...uploaded, [TOKENS_INPUT]: tokens };
      for (;;) {
        if (keep === undefined && dense !== undefined && program !== dense) {
          await program.dispose();
          program = dense;
        }
        const readsPairs = program !== dense;
        const outputs = await program.run(keep === undefined ? feeds : { ...feeds, [KEEP_INPUT]: hostTensor('int64', [1], BigInt64Array.of(BigInt(keep))) });
        try {
          if (!readsPairs) {
            const acts = await outputs[FEATURE_ACTS]!.toHost();
            collector.add(acts.data as Float32Array, tokens.data, rows, length);
            break;
          }
          const values = (await outputs[KEPT_VALUES]!.toHost()).data as Float32Array;
          const k = kept?.k ?? keep!;
          if (kept === undefined && k < columns && mayOverflow(values, k)) {
            // A position may have more non-zero values than it kept: this batch again with more pairs, or dense.
            keep = nextKeep(k, columns);
            if (keep === undefined) dense = await compile({ [FEATURE_ACTS]: graph.output });
            continue;
          }
          const indices = await outputs[KEPT_INDICES]!.toHost();
          collector.addKept(int64AsNumbers(indices.data as BigInt64Array), values, k, tokens.data, rows, length);
          break;
        } finally {
          for (const tensor of Object.values(outputs)) tensor.dispose();
        }
      }
      batches++;
      options.onBatch?.(collector.tokenCount);
    }
    if (batches === 0) throw new ConfigError('dashboard: the token batches yielded none; pass at least one batch (an iterator is used up after one pass).');
  } finally {
    for (const tensor of Object.values(uploaded)) tensor.dispose();
    await program.dispose();
    if (dense !== undefined && dense !== program) await dense.dispose();
  }
  const effects = (options.logitTokens ?? 10) > 0 ? await logitEffects(model, decomposition, params, range, options.logitTokens ?? 10) : undefined;
  const statistics = collector.statistics();
  const { labels } = graph;
  return {
    ...(labels === undefined ? {} : { valueLabel: labels.valueLabel, ...(labels.featureNames === undefined ? {} : { featureNames: labels.featureNames.slice(range.start, range.end) }) }),
    architecture: decomposition.architecture,
    reads: decomposition.reads.map(({ hook }) => hook),
    writes: decomposition.writes.map(({ hook }) => hook),
    featureCount,
    range,
    tokens: collector.tokenCount,
    features: effects === undefined ? statistics : statistics.map((feature, index) => ({ ...feature, logitEffects: effects[index] })),
  };
}

/**
 * The graph: the model up to the last hook the decomposition reads or
 * writes, each hook as [positions, width] rows, then featureActs (sliced to
 * `range`). Also gives the decomposition's total feature count. With
 * `sparse`, `kept` is the decomposition's kept pairs ([positions, k] int64
 * indices and float32 values) when its inference gives them.
 */
export function dashboardGraph(
  model: HookedTransformer,
  decomposition: Decomposition,
  params: Readonly<Record<string, HostTensor>>,
  state: Readonly<Record<string, HostTensor>>,
  range?: FeatureRange,
  options: { readonly sparse?: boolean } = {},
): {
  graph: {
    graph: Graph;
    output: Tensor;
    kept?: { indices: Tensor; values: Tensor; k: number };
    /** Tensors to feed as `frozen.{name}` (the decomposition's `frozenInputs`, when it gives `dashboardValues`). */
    frozen: Readonly<Record<string, HostTensor>>;
    labels?: { valueLabel: string; featureNames?: readonly string[] };
  };
  featureCount: number;
} {
  const graph = new Graph();
  const tokens = graph.input(TOKENS_INPUT, ['batch', 'seq'], 'int64');
  const hasOwnValues = decomposition.dashboardValues !== undefined;
  // With its own dashboard values, an int64 port is the token ids themselves, not a hook of the model.
  const streams = streamsOf([decomposition]).filter((port) => !(hasOwnValues && port.dtype === 'int64'));
  const { hooks } = streams.length === 0 && hasOwnValues ? { hooks: {} as TensorMap } : model.buildGraph(graph, tokens, { outputs: streams.map(({ hook }) => hook), returnType: 'none' });
  const positions = mulDims('batch', 'seq');
  const rows: TensorMap = {};
  for (const { hook, width } of streams) {
    const value = hooks[hook]!;
    const perPosition = value.shape.slice(2).reduce<number>((product, dim) => product * (typeof dim === 'number' ? dim : Number.NaN), 1);
    if (value.shape[0] !== 'batch' || value.shape[1] !== 'seq' || perPosition !== width) {
      throw new ShapeError(`dashboard: hook '${hook}' is [${value.shape.join(', ')}], but the decomposition declares ${width} values per position for it; it was trained on another hook or model.`);
    }
    rows[hook] = reshape(value, [positions, width]);
  }
  const inputs = (prefix: string, tensors: Readonly<Record<string, HostTensor>>): TensorMap =>
    Object.fromEntries(Object.entries(tensors).map(([name, tensor]) => [name, graph.input(`${prefix}.${name}`, [...tensor.shape], tensor.dtype)]));
  const paramInputs = inputs('param', params);
  const stateInputs = inputs('state', state);
  const reads = Object.fromEntries(decomposition.reads.map(({ hook, dtype }) => [hook, hasOwnValues && dtype === 'int64' ? tokens : rows[hook]!]));
  const frozen = hasOwnValues ? (decomposition.frozenInputs?.() ?? {}) : {};
  const ownValues = decomposition.dashboardValues?.(graph, reads, paramInputs, inputs(FROZEN_PREFIX.slice(0, -1), frozen));
  const inferred = ownValues === undefined ? decomposition.inferOutputs?.(graph, reads, paramInputs, stateInputs) : undefined;
  const featureActs =
    ownValues?.values ??
    inferred?.featureActs ??
    decomposition.forward(graph, { inputs: reads, targets: Object.fromEntries(decomposition.writes.map(({ hook }) => [hook, rows[hook]!])) }, paramInputs, stateInputs).featureActs;
  const featureCount = featureActs.shape.at(-1);
  if (featureActs.rank !== 2 || typeof featureCount !== 'number') {
    throw new ShapeError(`dashboard: decomposition '${decomposition.architecture}' returned feature activations ${featureActs}; they must be [positions, features] with a fixed feature count.`);
  }
  const output =
    range === undefined || (range.start === 0 && range.end === featureCount)
      ? featureActs
      : slice(featureActs, { starts: [Math.max(0, range.start)], ends: [Math.min(featureCount, range.end)], axes: [1] });
  // The host collector reads float32.
  const asFloat32 = (tensor: Tensor) => (tensor.dtype === 'float32' ? tensor : cast(tensor, 'float32'));
  if (ownValues?.featureNames !== undefined && ownValues.featureNames.length !== featureCount) {
    throw new ShapeError(
      `dashboard: decomposition '${decomposition.architecture}' names ${ownValues.featureNames.length} features but its dashboard values have ${featureCount}; dashboardValues must return one name per feature (or no featureNames).`,
    );
  }
  return {
    graph: {
      graph,
      output: asFloat32(output),
      kept: options.sparse ? keptOutputs(decomposition, inferred?.keptFeatures, asFloat32) : undefined,
      frozen,
      ...(ownValues === undefined ? {} : { labels: { valueLabel: ownValues.valueLabel, featureNames: ownValues.featureNames } }),
    },
    featureCount,
  };
}

/** The kept pairs as [positions, k] (int64 indices, float32 values); undefined when the decomposition gives none. */
function keptOutputs(decomposition: Decomposition, kept: KeptFeatures | undefined, asFloat32: (tensor: Tensor) => Tensor): { indices: Tensor; values: Tensor; k: number } | undefined {
  if (kept === undefined) return undefined;
  const { indices, values } = kept;
  const k = indices.shape.at(-1);
  if (indices.rank !== 2 || values.rank !== 2 || typeof k !== 'number' || values.shape.at(-1) !== k || indices.dtype !== 'int64') {
    throw new ShapeError(
      `dashboard: decomposition '${decomposition.architecture}' returned kept features with indices ${indices} and values ${values}; they must be [positions, k] each (int64 indices) with a fixed k.`,
    );
  }
  return { indices, values: asFloat32(values), k };
}

/**
 * int64 feature indices as numbers without a BigInt per element: the low
 * 32-bit words of the little-endian int64s (indices are < 2^31), read
 * through an Int32Array view of the same memory.
 */
function int64AsNumbers(data: BigInt64Array): ArrayLike<number> {
  if (!LITTLE_ENDIAN) return Float64Array.from(data, Number);
  const words = new Int32Array(data.buffer, data.byteOffset, data.length * 2);
  const low = new Int32Array(data.length);
  for (let index = 0; index < low.length; index++) low[index] = words[2 * index]!;
  return low;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
