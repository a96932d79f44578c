import type { HostTensor } from './dtype.js';
import { ConfigError } from './errors/config-error.js';
import { concat } from './primitives.js';
import { checkDecomposition, DECOMPOSITION_SPECIFICATION_VERSION, type ActivationPort, type Decomposition, type FeatureGroup, type InferenceOptions, type TensorMap } from './decomposition.js';
import type { Tensor } from './tensor.js';

export const COMBINED_ARCHITECTURE = 'combined';

/** Several decompositions acting as one: what replaces every MLP of a model at once when each layer has its own transcoder. */
export interface CombinedDecomposition extends Decomposition<{ readonly parts: readonly unknown[] }> {
  readonly parts: readonly Decomposition[];
}

/** Part `index`'s tensor `name` in the combination's maps: `0/W_enc`. */
function prefixed(index: number, name: string): string {
  return `${index}/${name}`;
}

function prefix<T>(index: number, map: Readonly<Record<string, T>>): Record<string, T> {
  return Object.fromEntries(Object.entries(map).map(([name, value]) => [prefixed(index, name), value]));
}

function partOf<T>(index: number, map: Readonly<Record<string, T>>): Record<string, T> {
  const start = `${index}/`;
  return Object.fromEntries(
    Object.entries(map)
      .filter(([name]) => name.startsWith(start))
      .map(([name, value]) => [name.slice(start.length), value]),
  );
}

function pick(map: TensorMap, ports: readonly ActivationPort[]): TensorMap {
  return Object.fromEntries(ports.map(({ hook }) => [hook, map[hook]]));
}

/**
 * One decomposition made of `parts` (e.g. a transcoder per layer): it reads
 * every stream a part reads and writes every stream a part writes, each
 * part computing its own outputs from its own inputs. Its parameters and
 * state are the parts', keyed `index/name` (`combinedTensors` builds them);
 * its feature activations are the parts' side by side, its losses and
 * metrics theirs under `index/`. Evaluation splices it in like any other
 * decomposition, so every written stream is replaced in the same pass, and
 * a part's inputs come from the pass the earlier parts have changed.
 *
 * Two parts may read the same stream but not write the same one.
 */
export function combineDecompositions(parts: readonly Decomposition[]): CombinedDecomposition {
  if (parts.length === 0) throw new ConfigError('combineDecompositions: no parts; pass at least one decomposition.');
  parts.forEach((part, index) => checkDecomposition(part, `combineDecompositions part ${index}`));
  const reads = new Map<string, ActivationPort>();
  const writes = new Map<string, ActivationPort>();
  for (const [index, part] of parts.entries()) {
    for (const port of part.reads) {
      const known = reads.get(port.hook);
      if (known !== undefined && known.width !== port.width) {
        throw new ConfigError(
          `combineDecompositions: part ${index} ('${part.architecture}') reads '${port.hook}' with width ${port.width}, another part with width ${known.width}; one stream has one width.`,
        );
      }
      reads.set(port.hook, port);
    }
    for (const port of part.writes) {
      if (writes.has(port.hook)) {
        throw new ConfigError(
          `combineDecompositions: two parts write '${port.hook}' (part ${index} is '${part.architecture}'); each stream can be replaced by one part only, so combine decompositions of different layers.`,
        );
      }
      writes.set(port.hook, port);
    }
  }
  const allInfer = parts.every((part) => part.inferOutputs !== undefined);
  const allGroups = parts.every((part) => part.featureGroups !== undefined);
  const inferenceOptions = (['topK', 'option'] as const).filter((option) => parts.every((part) => part.inferenceOptions?.includes(option)));
  // An evaluation option of the combination is one every part offers under the same name.
  const evaluationOptions = (parts[0].evaluationOptions ?? []).filter(({ name }) => parts.every((part) => part.evaluationOptions?.some((option) => option.name === name)));
  const anyWithoutBias = parts.some((part) => part.withoutEncoderBias !== undefined);
  const joined = (results: readonly { outputs: TensorMap; featureActs: Tensor }[]) => ({
    outputs: Object.assign({}, ...results.map(({ outputs }) => outputs)) as TensorMap,
    featureActs:
      results.length === 1
        ? results[0].featureActs
        : concat(
            results.map(({ featureActs }) => featureActs),
            -1,
          ),
  });
  const combined: CombinedDecomposition = {
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    architecture: COMBINED_ARCHITECTURE,
    config: { parts: parts.map((part) => part.config) },
    parts,
    reads: [...reads.values()],
    writes: [...writes.values()],
    describe: () => parts.flatMap((part, index) => (part.describe?.() ?? [{ key: 'architecture', value: part.architecture }]).map(({ key, value }) => ({ key: prefixed(index, key), value }))),
    initialParams: (rng) => Object.assign({}, ...parts.map((part, index) => prefix(index, part.initialParams(rng)))) as Record<string, HostTensor>,
    initialState: () => Object.assign({}, ...parts.map((part, index) => prefix(index, part.initialState()))) as Record<string, HostTensor>,
    forward(graph, batch, params, state) {
      const results = parts.map((part, index) =>
        part.forward(graph, { inputs: pick(batch.inputs, part.reads), targets: pick(batch.targets, part.writes) }, partOf(index, params), partOf(index, state)),
      );
      return {
        ...joined(results),
        losses: Object.assign({}, ...results.map(({ losses }, index) => prefix(index, losses))) as TensorMap,
        metrics: Object.assign({}, ...results.map(({ metrics }, index) => prefix(index, metrics))) as TensorMap,
        nextState: Object.assign({}, ...results.map(({ nextState }, index) => prefix(index, nextState))) as TensorMap,
      };
    },
    forwardCouplesSamples: parts.some((part) => part.forwardCouplesSamples === true),
    inferenceOptions,
    ...(evaluationOptions.length > 0 ? { evaluationOptions } : {}),
    ...(allInfer
      ? {
          inferOutputs(graph, inputs, params, state, options?: InferenceOptions) {
            return joined(parts.map((part, index) => part.inferOutputs!(graph, pick(inputs, part.reads), partOf(index, params), partOf(index, state), options)));
          },
        }
      : {}),
    ...(anyWithoutBias
      ? {
          withoutEncoderBias: (params: Readonly<Record<string, HostTensor>>) =>
            combinedTensors(
              parts.map((part, index) => {
                const own = partOf(index, params);
                return part.withoutEncoderBias?.(own) ?? own;
              }),
            ),
        }
      : {}),
    ...(parts.some((part) => part.prepareInitialParams !== undefined)
      ? {
          prepareInitialParams: (drawn: Readonly<Record<string, HostTensor>>) =>
            combinedTensors(
              parts.map((part, index) => {
                const own = partOf(index, drawn);
                return part.prepareInitialParams?.(own) ?? own;
              }),
            ),
        }
      : {}),
    ...(allGroups ? { featureGroups: (): FeatureGroup[] => parts.flatMap((part) => part.featureGroups!()) } : {}),
  };
  return combined;
}

/** The parts' parameters or state as a combination keyed them (`index/name`). */
export function combinedTensors(perPart: readonly Readonly<Record<string, HostTensor>>[]): Record<string, HostTensor> {
  return Object.assign({}, ...perPart.map((tensors, index) => prefix(index, tensors))) as Record<string, HostTensor>;
}
