import { DTypeError, type Node, type Tensor } from '@nnd/core';

/** How a program's nodes split between tfjs and the host. */
export interface HostPartition {
  /** Nodes tfjs runs, in schedule order. */
  readonly deviceSchedule: readonly Node[];
  /** Tensors the host computes that tfjs nodes consume or the caller asked for: evaluated on the host, then uploaded. */
  readonly hostResults: readonly Tensor[];
}

const touchesFloat64 = (node: Node) => [...node.inputs, ...node.outputs].some((tensor) => tensor.dtype === 'float64');

/**
 * TensorFlow.js has no float64. Nodes that read or write float64 run on the
 * host instead, through core's reference interpreter, exactly (float64
 * inside), which is what a step counter and Adam's bias corrections need.
 * That is only allowed where float64 data enters from float64 feeds and
 * constants: float64 computed from tfjs tensors would need a download in
 * the middle of the graph, so it is a DTypeError at compile time.
 */
export function partitionForHost(schedule: readonly Node[], requested: ReadonlySet<Tensor>): HostPartition {
  // Values the host has without touching tfjs: constants, float64 feeds, and what is computed from those alone.
  const onHost = new Set<Tensor>();
  for (const node of schedule) {
    const available = node.op === 'Input' ? node.outputs[0].dtype === 'float64' : node.inputs.every((input) => onHost.has(input));
    if (available) node.outputs.forEach((output) => onHost.add(output));
  }
  const hostNodes = new Set(schedule.filter(touchesFloat64));
  for (const node of hostNodes) {
    const fromDevice = node.inputs.find((input) => !onHost.has(input));
    if (fromDevice !== undefined) {
      throw new DTypeError(
        `${node.op} (node ${node.id}): computes float64 from ${fromDevice}, which the tfjs backend holds as a tfjs tensor, and TensorFlow.js has no float64. ` +
          'Keep the computation in float32, or feed the float64 value as a graph input (the backend evaluates float64 fed or constant values on the host), or use backend-onnx.',
      );
    }
  }
  // Walking back from the outputs, a tensor the host computes is a leaf: its host-side ancestors never reach tfjs.
  const needed = new Set(requested);
  const deviceSchedule: Node[] = [];
  const hostResults: Tensor[] = [];
  for (let position = schedule.length - 1; position >= 0; position--) {
    const node = schedule[position];
    const neededOutputs = node.outputs.filter((output) => needed.has(output));
    if (neededOutputs.length === 0) continue;
    if (hostNodes.has(node)) hostResults.push(...neededOutputs);
    else {
      deviceSchedule.push(node);
      node.inputs.forEach((input) => needed.add(input));
    }
  }
  return { deviceSchedule: deviceSchedule.reverse(), hostResults: hostResults.reverse() };
}
