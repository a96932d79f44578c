import type { Tensor } from '../tensor.js';
import { adamUpdate, type AdamCorrections, type AdamHyperparameters, type AdamResult } from './adam.js';
import { clipGradNorm } from './clip-grad-norm.js';
import { GraphError } from '../errors/graph-error.js';

type TensorMap = Record<string, Tensor>;

export interface ClippedAdamStepOptions {
  /** The parameters, by name; `gradients` has the same names. */
  readonly params: TensorMap;
  readonly gradients: TensorMap;
  /** torch's clip_grad_norm_ limit on the global norm of all gradients; Infinity measures the norm without clipping. */
  readonly maxGradNorm: number;
  /** The bias-corrected step size and epsilon of this step (core's `adamCorrections`, or scalars fed per step for a schedule). */
  readonly corrections: AdamCorrections;
  readonly adam: Pick<AdamHyperparameters, 'beta1' | 'beta2'>;
  /** Each parameter's Adam moments as the step reads them (graph inputs, under the caller's names). */
  moments(name: string, param: Tensor): { readonly firstMoment: Tensor; readonly secondMoment: Tensor };
  /**
   * Parameters clipped apart from the rest, each group on its own norm (spd clips components and
   * causal-importance functions separately); a group without `maxGradNorm` is not clipped. The
   * parameters in no group are clipped together by `maxGradNorm`.
   */
  readonly groups?: readonly { readonly params: readonly string[]; readonly maxGradNorm?: number }[];
  /** Applied to the clipped gradients before Adam (a decomposition's decoder constraint); must keep the names. */
  constrain?(params: TensorMap, gradients: TensorMap): { readonly params: TensorMap; readonly gradients: TensorMap };
}

/**
 * The optimizer half of a training step as graph ops: global-norm clipping
 * of the gradients, an optional constraint, then torch.optim.Adam on every
 * parameter. @nnd/train's decomposition step and @nnd/models' language-model
 * step both end with it, so the two optimizers cannot drift apart.
 */
export function clippedAdamStep(options: ClippedAdamStepOptions): { gradientNorm: Tensor; next: Record<string, AdamResult> } {
  const names = Object.keys(options.params);
  const clipped = options.groups?.length ? clipByGroups(options.gradients, options.maxGradNorm, options.groups) : clipGradNorm(options.gradients, options.maxGradNorm);
  const { params, gradients } = options.constrain ? options.constrain(options.params, clipped.gradients) : { params: options.params, gradients: clipped.gradients };
  const next: Record<string, AdamResult> = {};
  for (const name of names) {
    const { firstMoment, secondMoment } = options.moments(name, options.params[name]);
    next[name] = adamUpdate(params[name], gradients[name], firstMoment, secondMoment, options.corrections, options.adam);
  }
  return { gradientNorm: clipped.totalNorm, next };
}

/** Each group clipped on its own norm, the ungrouped rest together; the norm reported is all gradients' before clipping. */
function clipByGroups(gradients: TensorMap, maxGradNorm: number, groups: NonNullable<ClippedAdamStepOptions['groups']>): { gradients: TensorMap; totalNorm: Tensor } {
  const grouped = new Set<string>();
  const result: TensorMap = {};
  for (const group of groups) {
    const own: TensorMap = {};
    for (const name of group.params) {
      if (!(name in gradients)) throw new GraphError(`clippedAdamStep: a gradient group names '${name}', which is not one of the parameters [${Object.keys(gradients).join(', ')}].`);
      if (grouped.has(name)) throw new GraphError(`clippedAdamStep: parameter '${name}' is in two gradient groups; put each parameter in one.`);
      grouped.add(name);
      own[name] = gradients[name];
    }
    if (group.params.length === 0) continue;
    Object.assign(result, group.maxGradNorm === undefined ? own : clipGradNorm(own, group.maxGradNorm).gradients);
  }
  const rest = Object.fromEntries(Object.entries(gradients).filter(([name]) => !grouped.has(name)));
  if (Object.keys(rest).length > 0) Object.assign(result, clipGradNorm(rest, maxGradNorm).gradients);
  return {
    gradients: Object.fromEntries(Object.keys(gradients).map((name) => [name, result[name]])),
    totalNorm: clipGradNorm(gradients, Infinity).totalNorm,
  };
}
