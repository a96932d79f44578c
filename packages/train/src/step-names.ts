/**
 * Names of the training program's inputs and outputs. Each decomposition of a
 * group owns four kinds of tensors that the program reads and writes back:
 * its parameters, Adam's two moments and its non-trained state. ONNX needs
 * distinct input and output names, so outputs carry `next_`.
 */
export type StateKind = 'param' | 'adam_m' | 'adam_v' | 'state';

export const STATE_KINDS: readonly StateKind[] = ['param', 'adam_m', 'adam_v', 'state'];

/** The batch's rows of one stream, [batch_size, width] float32, shared by every decomposition of a group that reads or writes it. */
export function batchInputName(hook: string): string {
  return `batch.${hook}`;
}
/** The 1-based number of this optimizer step, a float64 scalar (Adam's bias correction needs t). */
export const STEP_INPUT = 'step';

export function stateInputName(index: number, kind: StateKind, name: string): string {
  return `member${index}.${kind}.${name}`;
}

export function stateOutputName(index: number, kind: StateKind, name: string): string {
  return `member${index}.next_${kind}.${name}`;
}

export function metricOutputName(index: number, metric: string): string {
  return `member${index}.metric.${metric}`;
}

/** A member's learning-rate factor for this step (float64 scalar), fed only when its schedule is not constant. */
export function lrScaleInputName(index: number): string {
  return `member${index}.lr_scale`;
}

/** A member's frozen input (see Decomposition.frozenInputs), fed unchanged to every step. */
export function frozenInputName(index: number, name: string): string {
  return `member${index}.frozen.${name}`;
}

/** A member's random input for this step (see Decomposition.randomInputs). */
export function randomInputName(index: number, name: string): string {
  return `member${index}.random.${name}`;
}
