import { BackendError, ConfigError } from '@nnd/core';
import { createRequire } from 'node:module';
import { dirname, sep } from 'node:path';
import type * as TfjsNamespace from '@tensorflow/tfjs';

/** The tfjs API: the same namespace whichever runtime package provides it. */
export type Tfjs = typeof TfjsNamespace;
export type TfTensor = TfjsNamespace.Tensor;

/**
 * Where tfjs runs: TensorFlow's C library on CUDA (`node-gpu`) or on the CPU
 * (`node`), the WebAssembly kernels (`wasm`, one thread in Node), or plain
 * JavaScript (`cpu`, the slowest).
 */
export type TfjsRuntime = 'node-gpu' | 'node' | 'wasm' | 'cpu';

/** Tried in this order when no runtime is named: fastest first. */
export const TFJS_RUNTIMES: readonly TfjsRuntime[] = ['node-gpu', 'node', 'wasm', 'cpu'];

export interface LoadedRuntime {
  readonly runtime: TfjsRuntime;
  readonly tf: Tfjs;
  /** The name tfjs registers the runtime's kernels under (`tf.setBackend`). */
  readonly tfjsBackendName: string;
  /** What `capabilities.device` reports: where the kernels run. */
  readonly device: 'cpu' | 'cuda';
}

/** How each runtime is installed, for error messages. */
const INSTALL_HINTS: Readonly<Record<TfjsRuntime, string>> = {
  'node-gpu': "'npm i @tensorflow/tfjs-node-gpu' on Linux x64 with CUDA 11.x and cuDNN 8 (its install script downloads libtensorflow)",
  node: "'npm i @tensorflow/tfjs-node' (its install script downloads libtensorflow)",
  wasm: "'npm i @tensorflow/tfjs @tensorflow/tfjs-backend-wasm'",
  cpu: "'npm i @tensorflow/tfjs'",
};

/** Packages each runtime imports; all are optional peer dependencies of this package. */
const PACKAGES: Readonly<Record<TfjsRuntime, readonly string[]>> = {
  'node-gpu': ['@tensorflow/tfjs-node-gpu'],
  node: ['@tensorflow/tfjs-node'],
  wasm: ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm'],
  cpu: ['@tensorflow/tfjs'],
};

/** Thrown inside this module when a runtime's package is simply not installed, so auto-selection moves on. */
class RuntimeNotInstalled extends BackendError {}

/**
 * True when `error` says that `specifier` itself cannot be found, not one of
 * its dependencies or native files: an installed but broken package must
 * surface, not silently fall back to a slower runtime.
 */
export function isModuleNotFound(error: unknown, specifier: string): boolean {
  const message = error instanceof Error ? error.message : String(error);
  // Node: "Cannot find package 'x' imported from ..."; Vite-based runners (vitest) stub absent optional peers: 'Could not resolve "x"'.
  const named = /Cannot find (?:package|module) '([^']+)'|Could not resolve "([^"]+)"|Failed to load url (\S+)/.exec(message);
  const missing = named?.[1] ?? named?.[2] ?? named?.[3];
  return missing !== undefined && (missing === specifier || missing.startsWith(`${specifier}/`));
}

async function importPackage(specifier: string, runtime: TfjsRuntime, entryPoint: string): Promise<Record<string, unknown>> {
  let loaded: Record<string, unknown> & { default?: Record<string, unknown> };
  try {
    // A variable specifier: these optional peers may be absent, so neither TypeScript nor a bundler may insist on them.
    loaded = (await import(specifier)) as typeof loaded;
  } catch (error) {
    if (isModuleNotFound(error, specifier)) {
      throw new RuntimeNotInstalled(`tfjs runtime '${runtime}' needs ${specifier}, which is not installed; install it with ${INSTALL_HINTS[runtime]}.`, { cause: error });
    }
    throw new BackendError(
      `tfjs runtime '${runtime}': ${specifier} is installed but failed to load (${error instanceof Error ? error.message : String(error)}). ` +
        `Reinstall it with ${INSTALL_HINTS[runtime]}, or pick another runtime with createTfjsBackend({ runtime }).`,
      { cause: error },
    );
  }
  // These are CommonJS packages: Node's detected named exports can miss re-exports, module.exports (`default`) has them all.
  return typeof loaded.default?.[entryPoint] === 'function' ? loaded.default : loaded;
}

/**
 * Points tfjs-backend-wasm at the .wasm binaries in its own dist folder. In
 * Node it reads them with `fs` from this prefix; left unset it would try a
 * URL relative to the bundle. tfjs refuses the call once wasm is initialised,
 * which a second backend in the same process finds already done.
 */
function setWasmPaths(tf: Tfjs, wasm: Record<string, unknown>): void {
  if (tf.findBackend('wasm') !== null) return;
  const require = createRequire(import.meta.url);
  const distFolder = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  (wasm.setWasmPaths as (prefix: string) => void)(`${distFolder}${sep}`);
}

async function activate(tf: Tfjs, tfjsBackendName: string, runtime: TfjsRuntime): Promise<void> {
  let activated: boolean;
  try {
    activated = await tf.setBackend(tfjsBackendName);
    await tf.ready();
  } catch (error) {
    throw new BackendError(`tfjs runtime '${runtime}' failed to initialise: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  if (!activated) {
    throw new BackendError(`tfjs runtime '${runtime}': tf.setBackend('${tfjsBackendName}') failed (see tfjs's warning above); pick another runtime with createTfjsBackend({ runtime }).`);
  }
}

async function loadOne(runtime: TfjsRuntime): Promise<LoadedRuntime> {
  const [main, extra] = await Promise.all(PACKAGES[runtime].map((specifier) => importPackage(specifier, runtime, specifier.endsWith('-wasm') ? 'setWasmPaths' : 'tidy')));
  const tf = main as unknown as Tfjs;
  if (runtime === 'wasm') setWasmPaths(tf, extra);
  // tfjs-node and tfjs-node-gpu both register their kernels as 'tensorflow'.
  const tfjsBackendName = runtime === 'wasm' ? 'wasm' : runtime === 'cpu' ? 'cpu' : 'tensorflow';
  await activate(tf, tfjsBackendName, runtime);
  // tfjs-node-gpu runs on the CPU when TensorFlow finds no usable GPU; report what it found.
  const usesGpu = runtime === 'node-gpu' && (tf.backend() as { isUsingGpuDevice?: boolean }).isUsingGpuDevice !== false;
  return { runtime, tf, tfjsBackendName, device: usesGpu ? 'cuda' : 'cpu' };
}

/** Loads the named runtime, or the first installed one in TFJS_RUNTIMES order. */
export async function loadRuntime(runtime?: TfjsRuntime): Promise<LoadedRuntime> {
  if (runtime !== undefined) {
    if (!TFJS_RUNTIMES.includes(runtime)) {
      throw new ConfigError(`createTfjsBackend: runtime '${String(runtime)}' is not one of ${TFJS_RUNTIMES.join(', ')}; omit it to pick the fastest installed one.`);
    }
    try {
      return await loadOne(runtime);
    } catch (error) {
      // Named explicitly, a missing package is the caller's error to see, as a plain BackendError.
      if (error instanceof RuntimeNotInstalled) throw new BackendError(error.message, { cause: error.cause });
      throw error;
    }
  }
  const missing: string[] = [];
  for (const candidate of TFJS_RUNTIMES) {
    try {
      return await loadOne(candidate);
    } catch (error) {
      if (!(error instanceof RuntimeNotInstalled)) throw error;
      missing.push(`${candidate}: ${INSTALL_HINTS[candidate]}`);
    }
  }
  throw new BackendError(`createTfjsBackend: no TensorFlow.js runtime is installed. Install one of (fastest first): ${missing.join('; ')}.`);
}
