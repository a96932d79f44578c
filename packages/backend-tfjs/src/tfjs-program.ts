import {
  BackendError,
  GraphError,
  SymbolBindings,
  Tensor,
  UnsupportedOpError,
  evaluateGraph,
  isDeviceTensor,
  loneSymbolsFirst,
  validateFeeds,
  type CompileOptions,
  type DeviceTensor,
  type Feed,
  type Graph,
  type HostTensor,
  type InputDescription,
  type Node,
  type OpAttributes,
  type OpName,
  type Program,
} from '@nnd/core';
import { partitionForHost } from './host-partition.js';
import { KERNELS, hostInputs } from './kernels/kernels.js';
import type { KernelContext, TfjsKernel } from './kernels/kernel.js';
import { shapeSlice } from './kernels/layout-kernels.js';
import { TfjsDeviceTensor } from './tfjs-device-tensor.js';
import { kernelError } from './tfjs-errors.js';
import type { LoadedRuntime, TfTensor } from './tfjs-runtime.js';
import { fromHostTensor, hostNumbers } from './tfjs-tensors.js';

/** What a program needs from its backend. */
export interface ProgramHost {
  readonly loaded: LoadedRuntime;
  /** Makes this backend's runtime tfjs's active one (tfjs has one global engine). */
  activate(): Promise<void>;
  /** Turns a feed into a tfjs tensor; `owned` when it was made for this run and must be disposed by it. */
  feedTensor(feed: Feed, where: string): Promise<{ tensor: TfTensor; owned: boolean }>;
  wrap(tensor: TfTensor, dtype: Tensor['dtype']): TfjsDeviceTensor;
  forget(program: TfjsProgram): void;
}

/** A graph input a program reads: its name, declared dtype and shape, and the IR tensor it feeds. */
interface ProgramInput extends InputDescription {
  readonly tensor: Tensor;
}

interface Constant {
  readonly tensor: TfTensor;
  readonly values: number[];
}

/**
 * An IR graph interpreted node by node with tfjs ops. Each node runs inside
 * `tf.tidy`, so a kernel's temporaries are freed at once; each intermediate
 * result is disposed right after its last consumer, so peak memory is the
 * live set, not the whole graph. Between nodes the interpreter may await
 * (reading TopK's k or Range's bounds), which one big tidy would not allow.
 * float64 nodes (fed or constant values only) run first, on the host, in
 * core's reference interpreter; see partitionForHost.
 */
export class TfjsProgram implements Program {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  private readonly inputs: readonly ProgramInput[];
  /** Inputs tfjs reads; the others only feed host nodes. */
  private readonly deviceInputs: readonly ProgramInput[];
  /** Graph inputs the host nodes read. */
  private readonly hostInputNames: readonly string[];
  /** Schedule position of each tensor's last consumer on tfjs. */
  private readonly lastUse = new Map<Tensor, number>();
  private readonly requested: ReadonlySet<Tensor>;
  private readonly graphInputNames: ReadonlySet<string>;
  private disposed = false;

  private constructor(
    private readonly host: ProgramHost,
    private readonly graph: Graph,
    private readonly outputs: readonly (readonly [string, Tensor])[],
    private readonly hostOutputs: ReadonlySet<string>,
    private readonly deviceSchedule: readonly Node[],
    private readonly hostResults: readonly Tensor[],
    private readonly constants: ReadonlyMap<Tensor, Constant>,
  ) {
    const inputsOf = (nodes: readonly Node[]) =>
      nodes
        .filter((node) => node.op === 'Input')
        .map((node): ProgramInput => {
          const tensor = node.outputs[0];
          return { name: (node as Node<'Input'>).attributes.name, dtype: tensor.dtype, shape: tensor.shape, tensor };
        });
    this.inputs = inputsOf(graph.ancestors(outputs.map(([, tensor]) => tensor)));
    this.deviceInputs = inputsOf(deviceSchedule);
    this.hostInputNames = hostResults.length === 0 ? [] : inputsOf(graph.ancestors(hostResults)).map((input) => input.name);
    this.inputNames = this.inputs.map((input) => input.name);
    this.outputNames = outputs.map(([name]) => name);
    this.requested = new Set(outputs.map(([, tensor]) => tensor));
    this.graphInputNames = new Set(graph.inputs.keys());
    deviceSchedule.forEach((node, position) => node.inputs.forEach((input) => this.lastUse.set(input, position)));
  }

  /** Checks the graph (every op has a kernel, float64 only from feeds and constants) and creates its constants once. */
  static async create(host: ProgramHost, graph: Graph, { outputs, hostOutputs = [] }: CompileOptions): Promise<TfjsProgram> {
    const entries = Object.entries(outputs);
    if (entries.length === 0) throw new GraphError('tfjs compile: no outputs requested; pass at least one named output.');
    for (const [name, tensor] of entries) {
      if (!(tensor instanceof Tensor) || tensor.graph !== graph) {
        throw new GraphError(`tfjs compile: output '${name}' is ${String(tensor)}, not a tensor of the graph being compiled.`);
      }
    }
    for (const name of hostOutputs) {
      if (!Object.hasOwn(outputs, name)) throw new GraphError(`tfjs compile: hostOutputs names '${name}', which is not among the outputs [${entries.map(([n]) => n).join(', ')}].`);
    }
    const schedule = graph.ancestors(entries.map(([, tensor]) => tensor));
    for (const node of schedule) {
      if (node.op !== 'Input' && !Object.hasOwn(KERNELS, node.op)) {
        throw new UnsupportedOpError(`${node.op} (node ${node.id}): the tfjs backend has no kernel for op '${node.op}'; this @nnd/core is newer than @nnd/backend-tfjs.`);
      }
    }
    const { deviceSchedule, hostResults } = partitionForHost(schedule, new Set(entries.map(([, tensor]) => tensor)));
    await host.activate();
    const { tf } = host.loaded;
    const constants = new Map<Tensor, Constant>();
    try {
      for (const node of deviceSchedule) {
        if (node.op !== 'Constant') continue;
        const { value } = node.attributes as OpAttributes['Constant'];
        // Kept: a compile called inside someone's tf.tidy must not lose its constants when that scope ends.
        const tensor = tf.keep(fromHostTensor(tf, value, `Constant (node ${node.id})`));
        constants.set(node.outputs[0], { tensor, values: hostNumbers(value) });
      }
    } catch (error) {
      for (const { tensor } of constants.values()) tensor.dispose();
      throw error;
    }
    return new TfjsProgram(host, graph, entries, new Set(hostOutputs), deviceSchedule, hostResults, constants);
  }

  async run(feeds: Record<string, Feed>): Promise<Record<string, DeviceTensor>> {
    if (this.disposed) throw new BackendError('This tfjs program was disposed (or its backend was); compile the graph again.');
    validateFeeds(this.inputs, feeds, this.graphInputNames);
    await this.host.activate();
    const { tf, runtime } = this.host.loaded;
    const bindings = new SymbolBindings('tfjs run', 'computed');
    const values = new Map<Tensor, TfTensor>();
    /** Values already on the host: constants, shapes and what the host computed. */
    const hostKnown = new Map<Tensor, ArrayLike<number>>();
    /** float64 results, which stay on the host. */
    const hostOnly = new Map<Tensor, HostTensor>();
    /** Tensors this run made; whatever is not handed out is disposed before it returns. */
    const owned = new Set<TfTensor>();
    const release = (tensor: Tensor) => {
      const value = values.get(tensor);
      values.delete(tensor);
      if (value !== undefined && owned.delete(value)) value.dispose();
    };
    try {
      // Lone symbols bind across all feeds before products are checked.
      for (const input of loneSymbolsFirst(this.deviceInputs, ({ shape }) => shape)) {
        const feed = feeds[input.name];
        bindings.match(input.tensor.shape, feed.shape, `feed '${input.name}'`);
        const { tensor, owned: isOwned } = await this.host.feedTensor(feed, `Feed '${input.name}'`);
        if (isOwned) owned.add(tensor);
        values.set(input.tensor, tensor);
      }
      for (const [tensor, constant] of this.constants) {
        values.set(tensor, constant.tensor);
        hostKnown.set(tensor, constant.values);
      }
      if (this.hostResults.length > 0) {
        const hostFeeds: Record<string, HostTensor> = {};
        for (const name of this.hostInputNames) {
          const feed = feeds[name];
          hostFeeds[name] = isDeviceTensor(feed) ? await feed.toHost() : feed;
        }
        const results = evaluateGraph(this.graph, this.hostResults, hostFeeds);
        this.hostResults.forEach((tensor, index) => {
          const result = results[index];
          if (tensor.dtype === 'float64') return void hostOnly.set(tensor, result);
          bindings.match(tensor.shape, result.shape, `${tensor} (computed on the host)`);
          const uploaded = fromHostTensor(tf, result, `${tensor.node.op} (node ${tensor.node.id})`);
          owned.add(uploaded);
          values.set(tensor, uploaded);
          hostKnown.set(tensor, hostNumbers(result));
        });
      }

      for (const [position, node] of this.deviceSchedule.entries()) {
        if (node.op === 'Input' || node.op === 'Constant') continue;
        const where = `${node.op} (node ${node.id})`;
        const lookup = (dim: Parameters<SymbolBindings['lookup']>[0]) => bindings.lookup(dim);
        const loaded = new Map<number, ArrayLike<number>>();
        for (const index of hostInputs(node, lookup)) {
          const input = node.inputs[index];
          loaded.set(index, hostKnown.get(input) ?? ((await values.get(input)!.data()) as ArrayLike<number>));
        }
        const context: KernelContext = {
          tf,
          runtime,
          where,
          lookup,
          resolve: (dim) => bindings.resolve(dim, where),
          hostValues: (index) => {
            const found = loaded.get(index);
            if (found === undefined) throw new BackendError(`${where}: input ${index} was not loaded to the host; list it in hostInputs.`);
            return found;
          },
        };
        const inputs = node.inputs.map((input) => values.get(input)!);
        const kernel = KERNELS[node.op] as TfjsKernel<OpName>;
        let results: TfTensor[];
        try {
          results = tf.tidy(() => kernel(inputs, node.attributes as never, context));
        } catch (error) {
          throw kernelError(error, where, runtime);
        }
        // Every IR value gets its own tensor object, so that each can be disposed exactly once.
        results = results.map((result, index) => (inputs.includes(result) || results.indexOf(result) !== index ? tf.clone(result) : result));
        node.outputs.forEach((output, index) => {
          owned.add(results[index]);
          values.set(output, results[index]);
        });
        node.outputs.forEach((output, index) => bindings.match(output.shape, results[index].shape, `${where} output ${index}`));
        if (node.op === 'Shape') hostKnown.set(node.outputs[0], shapeSlice(inputs[0].shape, node.attributes as OpAttributes['Shape']));
        for (const input of new Set(node.inputs)) {
          if (this.lastUse.get(input) === position && !this.requested.has(input)) release(input);
        }
        for (const output of node.outputs) {
          if (!this.lastUse.has(output) && !this.requested.has(output)) release(output);
        }
      }
      return await this.collectOutputs(values, hostOnly, owned);
    } finally {
      for (const tensor of owned) tensor.dispose();
    }
  }

  /** Wraps the requested outputs, reading `hostOutputs` to the host; takes what it hands out from `owned`. */
  private async collectOutputs(values: ReadonlyMap<Tensor, TfTensor>, hostOnly: ReadonlyMap<Tensor, HostTensor>, owned: Set<TfTensor>): Promise<Record<string, DeviceTensor>> {
    const { tf } = this.host.loaded;
    const results: Record<string, DeviceTensor> = {};
    const handedOut = new Set<TfTensor>();
    try {
      for (const [name, output] of this.outputs) {
        const host = hostOnly.get(output);
        if (host !== undefined) {
          results[name] = new TfjsDeviceTensor(output.dtype, { host });
          continue;
        }
        let tensor = values.get(output)!;
        // Constants, fed device tensors and a tensor under a second name are not this run's to give away: give a clone.
        if (!owned.has(tensor) || handedOut.has(tensor)) tensor = tf.clone(tensor);
        handedOut.add(tensor);
        owned.delete(tensor);
        const device = this.host.wrap(tensor, output.dtype);
        if (this.hostOutputs.has(name)) {
          results[name] = new TfjsDeviceTensor(output.dtype, { host: await device.toHost() });
          device.dispose();
        } else {
          results[name] = device;
        }
      }
    } catch (error) {
      for (const tensor of handedOut) tensor.dispose();
      throw error;
    }
    return results;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const { tensor } of this.constants.values()) tensor.dispose();
    this.host.forget(this);
  }
}
