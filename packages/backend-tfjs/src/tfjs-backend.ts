import {
  ConfigError,
  checkHostTensor,
  isDeviceTensor,
  type Backend,
  type BackendCapabilities,
  type CompileOptions,
  type DType,
  type DeviceTensor,
  type Feed,
  type Graph,
  type HostTensor,
} from '@nnd/core';
import { TfjsDeviceTensor } from './tfjs-device-tensor.js';
import { TFJS_SUPPORTED_DTYPES } from './tfjs-dtype.js';
import { TfjsProgram, type ProgramHost } from './tfjs-program.js';
import { loadRuntime, type LoadedRuntime, type TfTensor, type TfjsRuntime } from './tfjs-runtime.js';
import { fromHostTensor } from './tfjs-tensors.js';

export interface TfjsBackendSettings {
  /**
   * Which TensorFlow.js runtime runs the kernels. Omitted: the first one
   * installed of 'node-gpu' (@tensorflow/tfjs-node-gpu), 'node'
   * (@tensorflow/tfjs-node), 'wasm' (@tensorflow/tfjs-backend-wasm) and
   * 'cpu' (@tensorflow/tfjs).
   */
  runtime?: TfjsRuntime;
}

/** A Backend that interprets IR graphs with TensorFlow.js ops. */
export interface TfjsBackend extends Backend {
  /** The runtime that was picked or named. */
  readonly runtime: TfjsRuntime;
}

const SETTING_NAMES: readonly string[] = ['runtime'];

/**
 * Loads a TensorFlow.js runtime (dynamic imports of optional peer
 * dependencies, hence async) and returns a backend on it. The runtime is
 * reported as `runtime`, in `name` (`tfjs-wasm`) and by
 * `capabilities.device` (`cuda` on tfjs-node-gpu with a GPU, else `cpu`).
 */
export async function createTfjsBackend(settings: TfjsBackendSettings = {}): Promise<TfjsBackend> {
  if (typeof settings !== 'object' || settings === null) throw new ConfigError(`createTfjsBackend: settings must be an object, got ${String(settings)}.`);
  for (const key of Object.keys(settings)) {
    if (!SETTING_NAMES.includes(key)) throw new ConfigError(`createTfjsBackend: unknown setting '${key}'; the settings are ${SETTING_NAMES.join(', ')}.`);
  }
  return new TfjsBackendImplementation(await loadRuntime(settings.runtime));
}

let defaultBackend: Promise<TfjsBackend> | undefined;

/** A shared backend on the fastest installed runtime, created on first call. */
export function tfjsBackend(): Promise<TfjsBackend> {
  defaultBackend ??= createTfjsBackend();
  // A failed load is not cached, so installing a runtime and calling again works.
  defaultBackend.catch(() => (defaultBackend = undefined));
  return defaultBackend;
}

/** Where device tensors live, by runtime, for DeviceTensor.location. */
function locationOf(loaded: LoadedRuntime): string {
  if (loaded.runtime === 'wasm') return 'wasm-heap';
  return loaded.device === 'cuda' ? 'gpu' : 'cpu';
}

class TfjsBackendImplementation implements TfjsBackend, ProgramHost {
  readonly specificationVersion = 'nnd-backend-v1';
  readonly name: string;
  readonly runtime: TfjsRuntime;
  readonly capabilities: BackendCapabilities;
  private readonly location: string;
  private readonly programs = new Set<TfjsProgram>();

  constructor(readonly loaded: LoadedRuntime) {
    this.runtime = loaded.runtime;
    this.name = `tfjs-${loaded.runtime}`;
    this.location = locationOf(loaded);
    // Device tensors are tfjs tensors that later runs consume in place, whichever memory the runtime keeps them in.
    this.capabilities = { dtypes: TFJS_SUPPORTED_DTYPES, device: loaded.device, deviceResidentTensors: true };
  }

  async compile(graph: Graph, options: CompileOptions): Promise<TfjsProgram> {
    const program = await TfjsProgram.create(this, graph, options);
    this.programs.add(program);
    return program;
  }

  async upload(tensor: HostTensor): Promise<DeviceTensor> {
    checkHostTensor(tensor, 'upload: the tensor');
    // tfjs has no float64: such tensors stay on the host, where programs evaluate float64 nodes.
    if (tensor.dtype === 'float64') return new TfjsDeviceTensor('float64', { host: tensor });
    await this.activate();
    const { tf } = this.loaded;
    return this.wrap(tf.keep(fromHostTensor(tf, tensor, 'upload')), tensor.dtype);
  }

  /** Disposes every program's constants; the backend stays usable, its old programs refuse to run. */
  async dispose(): Promise<void> {
    await Promise.all([...this.programs].map((program) => program.dispose()));
  }

  // ProgramHost: used by TfjsProgram.

  async activate(): Promise<void> {
    const { tf, tfjsBackendName } = this.loaded;
    // tfjs has one global engine: another backend in this process may have switched it to its runtime.
    if (tf.getBackend() !== tfjsBackendName) await tf.setBackend(tfjsBackendName);
  }

  async feedTensor(feed: Feed, where: string): Promise<{ tensor: TfTensor; owned: boolean }> {
    // A tfjs tensor is used in place, even from another tfjs backend: tfjs moves data between its runtimes itself.
    const tensor = feed instanceof TfjsDeviceTensor ? feed.tensor : undefined;
    if (tensor !== undefined) return { tensor, owned: false };
    const host = isDeviceTensor(feed) ? await feed.toHost() : feed;
    return { tensor: fromHostTensor(this.loaded.tf, host, where), owned: true };
  }

  wrap(tensor: TfTensor, dtype: DType): TfjsDeviceTensor {
    // tfjs-cpu's data() returns its own buffer; the other runtimes copy out of their memory anyway.
    return new TfjsDeviceTensor(dtype, { tensor, location: this.location, copyOnRead: this.runtime === 'cpu' });
  }

  forget(program: TfjsProgram): void {
    this.programs.delete(program);
  }
}
