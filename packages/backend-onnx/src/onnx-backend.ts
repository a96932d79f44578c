import { availableParallelism } from 'node:os';
import {
  ConfigError,
  DTYPES,
  GraphError,
  isDeviceTensor,
  type Backend,
  type BackendCapabilities,
  type CompileOptions,
  type DType,
  type DeviceTensor,
  type Feed,
  type Graph,
  type HostData,
  type HostTensor,
  type Program,
} from '@nnd/core';
import { compileToOnnx } from './compile-to-onnx.js';
import { identityModel } from './identity-model.js';
import { OnnxDeviceTensor } from './onnx-device-tensor.js';
import { OnnxProgram, type ProgramHost } from './onnx-program.js';
import { loadOnnxRuntime, type OnnxRuntime, type OnnxRuntimeTensor, type SessionOptions } from './onnx-runtime.js';
import { sessionCreationError, type OnnxDevice } from './runtime-errors.js';
import { SessionCache, type SessionLease } from './session-cache.js';

export type OnnxLogLevel = 'verbose' | 'info' | 'warning' | 'error' | 'fatal';

export interface OnnxBackendSettings {
  /** Execution provider: 'cpu' (default), 'webgpu' (Dawn on Vulkan/Metal/D3D12) or 'cuda' (opt-in download). */
  device?: OnnxDevice;
  /**
   * Intra-op threads; defaults to NND_ONNX_THREADS, else the number of cores.
   * Results are repeatable: a ScatterND that adds whole rows is
   * compiled to a sort and pairwise sums whose bits do not depend on the
   * thread count (onnxruntime's own kernel loses updates on repeated indices
   * when threaded), a program with any other reducing ScatterND runs on one
   * thread whatever this says, and the other kernels we emit give the same
   * bits run after run for a given count.
   */
  threads?: number;
  /** onnxruntime's log level for our sessions; defaults to 'error'. */
  logLevel?: OnnxLogLevel;
  /**
   * onnxruntime's CPU memory arena. Each session keeps its own arena at the
   * peak of its intermediates, so a run of several programs (the training
   * step and its forward variants, the model, evaluation) holds each one's
   * peak at once; without it, intermediates are freed after every run and
   * the next program reuses the memory. Defaults to off when the process
   * already keeps freed large buffers for reuse (`MALLOC_MMAP_MAX_=0`, as
   * nnd and the benchmarks relaunch themselves), on otherwise, where every
   * large allocation would map fresh pages.
   */
  cpuMemoryArena?: boolean;
}

/** Whether glibc keeps freed large buffers for reuse in this process (see @nnd/train's relaunchWithLargeBufferReuse). */
function reusesLargeBuffers(): boolean {
  return process.env.MALLOC_MMAP_MAX_ === '0';
}

/** Environment variable for the default intra-op thread count (`NND_ONNX_THREADS=1 nnd train ...`). */
export const THREADS_ENV = 'NND_ONNX_THREADS';

function threadsFromEnvironment(): number {
  const text = process.env[THREADS_ENV];
  if (text === undefined || text.trim() === '') return availableParallelism();
  const threads = Number(text);
  if (!Number.isInteger(threads) || threads < 1) {
    throw new ConfigError(`${THREADS_ENV} is ${JSON.stringify(text)}; allowed: a positive integer (the intra-op threads of each onnxruntime session), or unset for one per core.`);
  }
  return threads;
}

/**
 * Environment variable that turns off onnxruntime's CPU memory arena and
 * memory patterns (`NND_ONNX_ARENA=0`): each session's arena otherwise keeps
 * its peak working set for the session's life, per compiled program. On the
 * TopK SAE bench at GPT-2-small size this halves peak RSS (7.7 to 4.1 GB);
 * its cost in step time is not yet measured on an idle machine, so it is off
 * by default.
 */
export const ARENA_ENV = 'NND_ONNX_ARENA';

function arenaFromEnvironment(): boolean {
  const text = process.env[ARENA_ENV];
  if (text === undefined || text.trim() === '' || text === '1') return true;
  if (text === '0') return false;
  throw new ConfigError(`${ARENA_ENV} is ${JSON.stringify(text)}; allowed: 0 (no CPU memory arena: less memory held between runs) or 1 (the default).`);
}

/**
 * The largest tensor onnxruntime's constant folding may compute at session
 * creation. A step's gradients scatter into zeros of a parameter's shape and
 * a TopK forward into zeros of [batch, dict_size] (`Expand` of a scalar):
 * folded, each became an initializer that the session holds for its life
 * (201 MB + 38 MB + 13 MB for a TopK SAE at GPT-2-small size, per compiled
 * program) and that the scatter copies from on every run. Unfolded, the
 * Expand fills a buffer at run time that the scatter may write in place.
 * Small folds (shapes, index arithmetic, scalars) are unaffected, and
 * neither way changes a result.
 */
const CONSTANT_FOLDING_MAX_BYTES = 4 * 1024 * 1024;

const DEVICES: readonly OnnxDevice[] = ['cpu', 'webgpu', 'cuda'];
const LOG_LEVELS: readonly OnnxLogLevel[] = ['verbose', 'info', 'warning', 'error', 'fatal'];
type OutputLocation = 'cpu' | 'gpu-buffer';

/** Compiles IR graphs to ONNX and runs them with onnxruntime-node. */
export function createOnnxBackend(settings: OnnxBackendSettings = {}): Backend {
  return new OnnxBackend(settings);
}

let defaultBackend: Backend | undefined;

/** A shared CPU backend, created on first call. */
export function onnxBackend(): Backend {
  return (defaultBackend ??= createOnnxBackend());
}

class OnnxBackend implements Backend, ProgramHost {
  readonly specificationVersion = 'nnd-backend-v1';
  readonly name = 'onnx';
  readonly capabilities: BackendCapabilities;
  readonly device: OnnxDevice;
  private readonly threads: number;
  private readonly arena = arenaFromEnvironment();
  private readonly logLevel: OnnxLogLevel;
  private readonly cpuMemoryArena: boolean;
  private readonly sessions: SessionCache;
  private readonly transfers = new Map<string, Promise<SessionLease>>();

  constructor(settings: OnnxBackendSettings) {
    const { device = 'cpu', threads = threadsFromEnvironment(), logLevel = 'error', cpuMemoryArena = !reusesLargeBuffers() } = settings;
    if (!DEVICES.includes(device)) throw new ConfigError(`createOnnxBackend: device '${String(device)}' is not one of ${DEVICES.join(', ')}.`);
    if (!Number.isInteger(threads) || threads < 1) throw new ConfigError(`createOnnxBackend: threads must be a positive integer, got ${threads}.`);
    if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`createOnnxBackend: logLevel '${String(logLevel)}' is not one of ${LOG_LEVELS.join(', ')}.`);
    this.device = device;
    this.threads = threads;
    this.logLevel = logLevel;
    this.cpuMemoryArena = cpuMemoryArena;
    // onnxruntime-node's WebGPU outputs can stay in GPU buffers; its CUDA provider has no such binding in Node.
    this.capabilities = { dtypes: DTYPES, device, deviceResidentTensors: device === 'webgpu' };
    this.sessions = new SessionCache(async (bytes, options) => {
      const runtime = await loadOnnxRuntime();
      try {
        return await runtime.InferenceSession.create(bytes, options);
      } catch (error) {
        throw sessionCreationError(error, device);
      }
    });
  }

  async compile(graph: Graph, options: CompileOptions): Promise<Program> {
    // WebGPU rejects the CPU lowering's empty Concat inputs; its own scatter kernel has no thread race to avoid.
    const model = compileToOnnx(graph, options.outputs, { rowScatterAdd: this.device === 'cpu' ? 'sorted-tree' : 'scatter-elements' });
    const hostOutputs = new Set(options.hostOutputs ?? []);
    for (const name of hostOutputs) {
      if (!Object.hasOwn(options.outputs, name)) {
        throw new GraphError(`compile: hostOutputs names '${name}', which is not among the outputs [${Object.keys(options.outputs).join(', ')}].`);
      }
    }
    const locations = Object.fromEntries(model.outputs.map((output) => [output.name, hostOutputs.has(output.name) ? 'cpu' : this.deviceLocation(output.dtype)]));
    const threads = model.reducingScatterND && this.device === 'cpu' ? 1 : this.threads;
    const lease = await this.sessions.acquire(model.bytes, this.sessionOptions(locations, threads));
    return new OnnxProgram(model, new Set(graph.inputs.keys()), lease, this);
  }

  async upload(tensor: HostTensor): Promise<DeviceTensor> {
    const runtime = await loadOnnxRuntime();
    const value = new runtime.Tensor(tensor.dtype, tensor.data, tensor.shape);
    if (this.deviceLocation(tensor.dtype) === 'cpu') return this.wrap(value, tensor.dtype);
    const { y } = await (await this.transferSession(tensor.dtype, 'gpu-buffer')).run({ x: value });
    return this.wrap(y as OnnxRuntimeTensor, tensor.dtype);
  }

  /** Releases every session; the backend stays usable and compiles afresh. */
  async dispose(): Promise<void> {
    this.transfers.clear();
    await this.sessions.clear();
  }

  // ProgramHost: used by OnnxProgram.

  async toRuntimeTensor(feed: Feed): Promise<OnnxRuntimeTensor> {
    if (feed instanceof OnnxDeviceTensor) {
      feed.assertLive();
      // A GPU buffer is fed as is only to sessions on the same device; another backend's CPU session would read garbage.
      if (feed.location === 'cpu' || feed.owner === this) return feed.value;
    }
    const host = isDeviceTensor(feed) ? await feed.toHost() : feed;
    const runtime: OnnxRuntime = await loadOnnxRuntime();
    return new runtime.Tensor(host.dtype, host.data, host.shape);
  }

  wrap(value: OnnxRuntimeTensor, dtype: DType): OnnxDeviceTensor {
    return new OnnxDeviceTensor(value, dtype, this, (tensor) => this.download(tensor));
  }

  release(lease: SessionLease): Promise<void> {
    return this.sessions.release(lease);
  }

  private async download(tensor: OnnxDeviceTensor): Promise<HostTensor> {
    const { y } = await (await this.transferSession(tensor.dtype, 'cpu')).run({ x: tensor.value });
    return { dtype: tensor.dtype, shape: [...y.dims], data: (y as OnnxRuntimeTensor).data as HostData };
  }

  /** An identity session that moves tensors of one dtype to `location`, held until the backend is disposed. */
  private async transferSession(dtype: DType, location: OutputLocation) {
    const key = `${dtype}:${location}`;
    let lease = this.transfers.get(key);
    if (lease === undefined) {
      lease = this.sessions.acquire(identityModel(dtype), this.sessionOptions({ y: location }));
      this.transfers.set(key, lease);
      lease.catch(() => this.transfers.delete(key));
    }
    return (await lease).session;
  }

  /** Where outputs of a dtype live by default: GPU buffers on WebGPU, except float64, which onnxruntime-node cannot hand out as one. */
  private deviceLocation(dtype: DType): OutputLocation {
    return this.device === 'webgpu' && dtype !== 'float64' ? 'gpu-buffer' : 'cpu';
  }

  private sessionOptions(locations: Record<string, OutputLocation>, threads = this.threads): SessionOptions {
    return {
      executionProviders: [this.device],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: threads,
      enableCpuMemArena: this.cpuMemoryArena && this.arena,
      // Memory patterns preallocate a run's intermediates as one block planned from the first runs; without the CPU arena
      // that block is a fresh allocation per run, larger than what the freed-as-you-go intermediates need at their peak.
      ...(this.arena && (this.device !== 'cpu' || this.cpuMemoryArena) ? {} : { enableMemPattern: false }),
      logSeverityLevel: LOG_LEVELS.indexOf(this.logLevel) as 0 | 1 | 2 | 3 | 4,
      extra: { optimization: { constant_folding_max_output_size_in_bytes: String(CONSTANT_FOLDING_MAX_BYTES) } },
      ...(this.device === 'webgpu' ? { preferredOutputLocation: locations } : {}),
    };
  }
}
