import type { HostTensor } from './dtype.js';
import type { Decomposition } from './decomposition.js';

/** A decomposition read back from its folder, with what its config recorded beside it (model, hooks, dataset). */
export interface SavedDecomposition {
  readonly decomposition: Decomposition;
  readonly params: Record<string, HostTensor>;
  readonly state: Record<string, HostTensor>;
  readonly metadata: Record<string, unknown>;
}

/** One decomposition a run trains. */
export interface FamilyMember {
  /** What tells it apart from the other members of its run, in run names (`topk`). */
  readonly label: string;
  /** The run-config values that are this member's own, where the run lists several (`{ sae_type: 'topk' }`): its run directory records the run config with these. */
  readonly runKeys: Readonly<Record<string, unknown>>;
  /** Its config for `create`. */
  readonly config: Readonly<Record<string, unknown>>;
  /** What stands for the hook in its run name when it is not one hook (a CLT's `layers_0-3`); default the run's `hook_point`. */
  readonly hookLabel?: string;
}

/**
 * What a command-line tool or any other driver needs from a package of
 * decompositions to train, save, load and evaluate them from one flat run
 * config, so that the driver names no architecture: `nnd train` looks the
 * family up by the config's `decomposition` key and asks it everything else.
 */
export interface DecompositionFamily {
  /** The run config's `decomposition` value: `'sae'`, `'transcoder'`, `'clt'`. */
  readonly name: string;
  /** One line for help texts. */
  readonly summary: string;
  /**
   * The run-config keys this family reads beyond the driver's own (model,
   * data, trainer): a zod 4 raw shape, each key with its default and a
   * `.describe()` line. A key the driver also has (`site`, `layer`) may be
   * given here with this family's default.
   */
  readonly configShape: Readonly<Record<string, unknown>>;
  /** The folder of a run directory the final decomposition is saved in (`sae`, `transcoder`). */
  readonly directoryName: string;
  /**
   * The decompositions a parsed run config asks for (several when it lists
   * several types to train on the same streams). `hookWidth` gives a hook's width in the run's model, for widths
   * the config leaves out; without it (before a model is loaded) widths come
   * from the config alone and may be missing.
   */
  members(run: Readonly<Record<string, unknown>>, hookWidth?: (hook: string) => number): readonly FamilyMember[];
  /**
   * Validates a member config (as `members` returns it, or as a saved file records it) and builds the decomposition.
   * `context.model` is the run's loaded model, for families that decompose the model itself (`trainsThroughModel`).
   */
  create(config: unknown, context?: FamilyContext): Decomposition;
  /** Writes a decomposition's folder in the family's interoperable layout (SAELens's for SAEs and transcoders). */
  save(directory: string, decomposition: Decomposition, params: Record<string, HostTensor>, state: Record<string, HostTensor>, metadata: Record<string, unknown>): Promise<void>;
  load(directory: string, context?: FamilyContext): Promise<SavedDecomposition>;
  /**
   * Optional: the metadata a folder this family's `save` wrote records
   * (model_name, dataset_path, context_size, hook_name: the keys `load`
   * returns as `metadata`), read without loading the folder; undefined when
   * the folder is not one of this family's. A driver evaluating a bare
   * folder learns from it which family wrote the folder and which model to
   * load before calling `load` (which, for a family trained through the
   * model, needs that model).
   */
  savedMetadata?(directory: string): Promise<Record<string, unknown> | undefined>;
  /**
   * True for decompositions of the model's weights (SPD): they read token
   * ids, are trained through the frozen model's own forward pass and are
   * evaluated by the family (`evaluate`), not by splicing written hooks.
   */
  readonly trainsThroughModel?: boolean;
  /**
   * The family's own evaluation of a trained decomposition on token batches
   * (int64 [rows, seq]) for the run's summary: named scalars, and named
   * arrays of numbers (histograms, per-component values).
   */
  evaluate?(decomposition: Decomposition, params: Record<string, HostTensor>, tokenBatches: readonly HostTensor[], context: FamilyContext): Promise<Record<string, number | number[]>>;
}

/** What a driver hands a family beside a config: the run's loaded model (a HookedTransformer from @nnd/models for `nnd`). */
export interface FamilyContext {
  readonly model?: unknown;
  /** The run's sequence length, for families whose batches are token sequences. */
  readonly sequenceLength?: number;
}
