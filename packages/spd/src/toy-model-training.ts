import type { Decomposition, HostTensor } from '@nnd/core';

/**
 * A toy target model's own training task (the TMS, the residual MLP), in the
 * shape of a Decomposition so that `@nnd/train`'s trainer trains it as spd's
 * train scripts do (its forward's one loss is the task's MSE); `weightsFrom`
 * turns the trained parameters into the weights its SPD target takes.
 */
export interface TrainableToyModel<Weights> extends Decomposition<Record<string, number>> {
  weightsFrom(params: Readonly<Record<string, HostTensor>>): Weights;
}
