import { add, cast, Graph, hostTensor, matmul, mul, slice, topk, transpose, type Decomposition, type DeviceTensor, type HostTensor, type Tensor } from '@nnd/core';
import type { HookedTransformer } from '@nnd/models';
import type { FeatureRange } from './collect-dashboard.js';

/** The tokens whose logits a feature's direction raises and lowers most, with the change per unit of activation. */
export interface LogitEffects {
  /** The written hook whose direction was projected ('a + b' when the directions at several hooks were summed). */
  readonly hook: string;
  readonly raised: readonly { readonly token: number; readonly value: number }[];
  readonly lowered: readonly { readonly token: number; readonly value: number }[];
}

/** Hooks whose value is added to the residual stream as it is: the residual stream itself and the MLP's output. */
const RESIDUAL_HOOK = /^blocks\.\d+\.hook_(resid_pre|resid_mid|resid_post|mlp_out)$/;
/** An MLP output: what is written there is added to the residual stream, so writes to several layers add up. */
const MLP_OUT_HOOK = /^blocks\.\d+\.hook_mlp_out$/;
/** Features per run of the projection program: [256, vocabulary] logits stay near 50 MiB for GPT-2. */
const FEATURES_PER_RUN = 256;

/**
 * The written hooks whose directions give logit effects, when the
 * decomposition gives directions: every MLP output it writes (a CLT feature
 * writes to the MLP output of each layer from its own on, and all of it
 * reaches the unembedding through the residual stream, so its direct logit
 * effect is that of the sum of its directions), else the first
 * residual-stream hook it writes.
 */
export function logitEffectHooks(decomposition: Decomposition): string[] {
  if (decomposition.decoderDirections === undefined) return [];
  const mlpOuts = decomposition.writes.filter(({ hook }) => MLP_OUT_HOOK.test(hook)).map(({ hook }) => hook);
  if (mlpOuts.length > 0) return mlpOuts;
  const residual = decomposition.writes.find(({ hook }) => RESIDUAL_HOOK.test(hook))?.hook;
  return residual === undefined ? [] : [residual];
}

/** The label of logitEffectHooks ('a + b' when directions at several hooks are summed), undefined when there are none. */
export function logitEffectHook(decomposition: Decomposition): string | undefined {
  const hooks = logitEffectHooks(decomposition);
  return hooks.length === 0 ? undefined : hooks.join(' + ');
}

/**
 * Direct logit effects per feature (the logit lens of its decoder
 * direction, summed over the hooks of logitEffectHooks): direction x the
 * final norm's scale x the unembedding, the `count` largest and smallest
 * per feature. The final norm's data-dependent normalisation is left out,
 * as in the usual "direct logit attribution" of a feature. Undefined when
 * the decomposition offers no `decoderDirections` or writes no
 * residual-stream hook.
 */
export async function logitEffects(
  model: HookedTransformer,
  decomposition: Decomposition,
  params: Readonly<Record<string, HostTensor>>,
  range: FeatureRange,
  count = 10,
): Promise<LogitEffects[] | undefined> {
  const hooks = logitEffectHooks(decomposition);
  if (hooks.length === 0) return undefined;
  const hook = hooks.join(' + ');
  const { backend, config } = model;
  const widths = new Set(hooks.map((name) => decomposition.writes.find((port) => port.hook === name)!.width));
  if (widths.size !== 1) return undefined;
  const [width] = widths;

  // The directions of the range, summed over the hooks, to the host.
  const directionsGraph = new Graph();
  const paramInputs = Object.fromEntries(Object.entries(params).map(([name, tensor]) => [name, directionsGraph.input(`param.${name}`, [...tensor.shape], tensor.dtype)]));
  const all = decomposition.decoderDirections!(directionsGraph, paramInputs);
  let summed: Tensor | undefined;
  for (const name of hooks) {
    const at = all[name];
    if (at === undefined) continue;
    if (at.rank !== 2 || at.shape[1] !== width) return undefined;
    const selected = slice(at, { starts: [range.start], ends: [range.end], axes: [0] });
    summed = summed === undefined ? selected : add(summed, selected);
  }
  if (summed === undefined) return undefined;
  const directionsProgram = await backend.compile(directionsGraph, { outputs: { directions: cast(summed, 'float32') }, hostOutputs: ['directions'] });
  let directions: Float32Array;
  try {
    const feeds: Record<string, HostTensor> = Object.fromEntries(Object.entries(params).map(([name, tensor]) => [`param.${name}`, tensor]));
    const outputs = await directionsProgram.run(feeds);
    directions = (await outputs.directions!.toHost()).data as Float32Array;
    for (const tensor of Object.values(outputs)) tensor.dispose();
  } finally {
    await directionsProgram.dispose();
  }

  // Projection: [n, width] x scale x W_U, top and bottom `count` per row.
  const graph = new Graph();
  const input = graph.input('directions', ['features', width], 'float32');
  const scale = graph.input('ln_final.w', [config.hiddenSize]);
  const unembedding: Tensor = config.tiedEmbeddings ? transpose(graph.input('embed.W_E', [config.vocabSize, config.hiddenSize])) : graph.input('unembed.W_U', [config.hiddenSize, config.vocabSize]);
  const logits = matmul(mul(input, scale), unembedding);
  const k = Math.min(count, config.vocabSize);
  const raised = topk(logits, k, { largest: true });
  const lowered = topk(logits, k, { largest: false });
  const outputs = { raisedValues: raised.values, raisedTokens: raised.indices, loweredValues: lowered.values, loweredTokens: lowered.indices };
  const program = await backend.compile(graph, { outputs, hostOutputs: Object.keys(outputs) });
  const effects: LogitEffects[] = [];
  try {
    const weights: Record<string, DeviceTensor> = await model.parameterFeeds(program.inputNames);
    const features = range.end - range.start;
    for (let first = 0; first < features; first += FEATURES_PER_RUN) {
      const rows = Math.min(FEATURES_PER_RUN, features - first);
      const chunk = hostTensor('float32', [rows, width], directions.slice(first * width, (first + rows) * width));
      const result = await program.run({ ...weights, directions: chunk });
      const host: Record<string, HostTensor> = {};
      for (const [name, tensor] of Object.entries(result)) {
        host[name] = await tensor.toHost();
        tensor.dispose();
      }
      const pairs = (values: HostTensor, tokens: HostTensor, row: number) =>
        Array.from({ length: k }, (_, index) => ({ token: Number(tokens.data[row * k + index]), value: Number(values.data[row * k + index]) }));
      for (let row = 0; row < rows; row++) {
        effects.push({ hook, raised: pairs(host.raisedValues!, host.raisedTokens!, row), lowered: pairs(host.loweredValues!, host.loweredTokens!, row) });
      }
    }
  } finally {
    await program.dispose();
  }
  return effects;
}
