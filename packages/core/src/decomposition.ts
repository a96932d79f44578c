import type { HostTensor } from './dtype.js';
import { ConfigError } from './errors/config-error.js';
import type { Graph } from './graph.js';
import type { Rng } from './rng.js';
import type { Tensor } from './tensor.js';

export type TensorMap = Record<string, Tensor>;

/** What a decomposition's forward pass returns (typed, not a loose dictionary). */
export interface ForwardOutput {
  /** Same shape as the input. */
  reconstruction: Tensor;
  /** [batch, dictionary size] (or the decomposition's latent shape). */
  featureActs: Tensor;
  /** Scalars summed into `loss`. Names are the dashboard names (`l2_loss`, `aux_loss`, ...). */
  losses: Record<string, Tensor>;
  /** Scalars logged but not optimised (`l0_norm`, `l1_norm`, ...). */
  metrics: Record<string, Tensor>;
  /** The non-trained state after this batch (one entry per state tensor). */
  nextState: TensorMap;
}

/** How the trainer asks for a cheaper forward pass. */
export interface ForwardOptions {
  /** The name of one of the decomposition's `variants`; absent for the full forward. */
  readonly variant?: string;
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
   * unsuffixed names) whether the variant is exact for the next step. Never
   * asked before the first step of a run, which always uses the full forward.
   */
  applies(previousMetrics: Readonly<Record<string, number>>): boolean;
}

/**
 * The contract between a decomposition and the trainer. It lives in core so
 * that the trainer depends on it and never on a decomposition package: a new
 * decomposition plugs into the unchanged trainer, logger and results.
 */
export interface Decomposition<Config = unknown> {
  /** Architecture id saved in files (`'topk'`, `'jumprelu'`, ...). */
  readonly architecture: string;
  readonly config: Config;
  /** Initial trained parameters, drawn in JS from `rng`. */
  initialParams(rng: Rng): Record<string, HostTensor>;
  /** Initial non-trained state (dead-feature counters, running thresholds). */
  initialState(): Record<string, HostTensor>;
  forward(graph: Graph, x: Tensor, params: TensorMap, state: TensorMap, options?: ForwardOptions): ForwardOutput;
  /** Cheaper forwards, tried in order before each training step; the first that applies is used. */
  readonly variants?: readonly ForwardVariant[];
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
