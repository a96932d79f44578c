import type { DType, HostTensor } from './dtype.js';
import type { Graph } from './graph.js';
import type { Tensor } from './tensor.js';

/**
 * A tensor owned by a backend (host memory for CPU backends, a GPU buffer for
 * WebGPU). It can be fed to any program of the same backend without a copy;
 * reading it is explicit.
 */
export interface DeviceTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Where the data lives, e.g. `'cpu'` or `'gpu-buffer'`. */
  readonly location: string;
  toHost(): Promise<HostTensor>;
  dispose(): void;
}

export type Feed = HostTensor | DeviceTensor;

export interface CompileOptions {
  /** Named outputs. Every graph input they depend on must be fed at run time. */
  outputs: Record<string, Tensor>;
  /**
   * Outputs to return in host memory even on a GPU backend (metrics read
   * every step). Others stay on the device.
   */
  hostOutputs?: readonly string[];
}

export interface Program {
  /** Graph inputs that `run` needs, by name. */
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, Feed>): Promise<Record<string, DeviceTensor>>;
  dispose(): Promise<void>;
}

export interface BackendCapabilities {
  readonly dtypes: readonly DType[];
  /** The device programs run on, e.g. `'cpu'`, `'webgpu'`, `'cuda'`. */
  readonly device: string;
  /** Whether DeviceTensors can stay off the host between runs. */
  readonly deviceResidentTensors: boolean;
}

/**
 * What every backend implements. Callers pass a backend in; nothing registers
 * itself at import time. `specificationVersion` changes whenever this
 * contract does, so a backend written for another version is rejected early.
 */
export interface Backend {
  readonly specificationVersion: 'nnd-backend-v1';
  readonly name: string;
  readonly capabilities: BackendCapabilities;
  compile(graph: Graph, options: CompileOptions): Promise<Program>;
  /** Moves a host tensor to the device (a no-op view on CPU backends). */
  upload(tensor: HostTensor): Promise<DeviceTensor>;
  dispose(): Promise<void>;
}

export function isDeviceTensor(feed: Feed): feed is DeviceTensor {
  return typeof (feed as DeviceTensor).toHost === 'function';
}
