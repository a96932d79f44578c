import type { HostTensor } from '@nnd/core';
import { weightMatrices, type HookedTransformer } from '@nnd/models';
import { describeMatrixNames } from './matrix-names.js';
import { SpdModelError } from './spd-model-error.js';
import type { SpdTarget } from './spd-target.js';

/**
 * A HookedTransformer as SPD's target: it reads int64 token ids [rows, seq]
 * (stream `tokens`), its matrices are those `weightMatrices` lists
 * (`blocks.{L}.attn.W_Q/K/V/O`, `blocks.{L}.mlp.W_in/W_gate/W_out`), its
 * weights are frozen inputs of the step, and outputs are compared by KL on
 * the logits.
 */
export function transformerTarget(model: HookedTransformer, seq: number, name = model.config.modelType): SpdTarget {
  return {
    name,
    inputs: [{ hook: 'tokens', width: seq, dtype: 'int64' }],
    positions: (rows) => [rows, seq],
    matrices: weightMatrices(model.config),
    weights: () => Object.fromEntries(model.parameterNames.map((parameter): [string, HostTensor] => [parameter, model.parameter(parameter)])),
    weightOf: (module) => module,
    transformer: model.config,
    outputLoss: 'kl',
    forward(graph, inputs, weights, products) {
      return model.buildGraph(graph, inputs.tokens, { returnType: 'logits', products, weights }).logits!;
    },
  };
}

/**
 * The modules a run names by shorthand: `mlp` (both MLP matrices of every
 * layer, and the gate when there is one), `attn` (Q, K, V, O of every layer),
 * `all`, or a comma-separated list of module names. Any other name is an
 * SpdModelError listing the model's matrices.
 */
export function expandModules(target: SpdTarget, spec: string): string[] {
  const names = [...target.matrices.keys()];
  const pick = (pattern: RegExp) => names.filter((name) => pattern.test(name));
  return spec
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .flatMap((part) => {
      if (part === 'mlp') return pick(/\.mlp\./);
      if (part === 'attn') return pick(/\.attn\./);
      if (part === 'all') return names;
      if (!target.matrices.has(part)) {
        throw new SpdModelError(
          `SPD: spd_modules names '${part}', which is neither mlp, attn, all nor a weight matrix of ${target.name} (${describeMatrixNames(names)}); ` +
            `write a comma-separated list of those, e.g. mlp or ${names.slice(0, 2).join(',')}.`,
        );
      }
      return [part];
    });
}
