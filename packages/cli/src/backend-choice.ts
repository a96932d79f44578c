import { createOnnxBackend } from '@nnd/backend-onnx';
import { ConfigError, type Backend } from '@nnd/core';
import type { RunConfig } from './run-config.js';

/** The tfjs runtime that runs on each device; tfjs has no WebGPU runtime in Node. */
const TFJS_RUNTIME_FOR_DEVICE = { cpu: undefined, cuda: 'node-gpu', webgpu: undefined } as const;

/**
 * The backend a run's `backend` and `device` keys ask for. ONNX Runtime ships
 * with nnd; TensorFlow.js is an optional package, imported only when asked
 * for, so that nnd works without it.
 */
export async function createBackend(config: Pick<RunConfig, 'backend' | 'device'>): Promise<Backend> {
  if (config.backend === 'onnx') return createOnnxBackend({ device: config.device });
  if (config.device === 'webgpu') {
    throw new ConfigError("Invalid config: 'device' is \"webgpu\" with 'backend' \"tfjs\"; allowed: 'cpu' or 'cuda' with tfjs (tfjs has no WebGPU runtime in Node), or 'backend' \"onnx\" for WebGPU.");
  }
  let tfjs: { createTfjsBackend(settings: { runtime?: string }): Promise<Backend> };
  // A variable specifier: the package is an optional peer, so neither TypeScript nor a bundler may insist on it.
  const specifier = '@nnd/backend-tfjs';
  try {
    tfjs = (await import(specifier)) as typeof tfjs;
  } catch (cause) {
    throw new ConfigError(
      `'backend' is "tfjs", but @nnd/backend-tfjs cannot be loaded (${(cause as Error).message.split('\n')[0]}). ` +
        "Install it with 'pnpm add @nnd/backend-tfjs @tensorflow/tfjs' (plus @tensorflow/tfjs-node or -node-gpu for speed), or use 'backend' \"onnx\".",
      { cause },
    );
  }
  const runtime = TFJS_RUNTIME_FOR_DEVICE[config.device];
  return tfjs.createTfjsBackend(runtime === undefined ? {} : { runtime });
}
