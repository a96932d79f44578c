import type { OpAttributes, OpName } from './op-set.js';
import type { Tensor } from './tensor.js';

/** One primitive application. `name` is set for graph inputs. */
export interface Node<O extends OpName | 'Input' = OpName | 'Input'> {
  readonly id: number;
  readonly op: O;
  readonly inputs: readonly Tensor[];
  readonly attributes: O extends OpName ? OpAttributes[O] : { name: string };
  readonly outputs: Tensor[];
}
