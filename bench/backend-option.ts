import { createOnnxBackend } from '@nnd/backend-onnx';
import type { Backend } from '@nnd/core';
import type { Benchmark } from './benchmarks.js';

/** `--backend onnx|tfjs` (default onnx); `--runtime` picks the tfjs runtime (default: the fastest installed). */
export const BACKEND_OPTIONS: Benchmark['options'] = {
  backend: { type: 'string', default: 'onnx' },
  runtime: { type: 'string' },
};

/** The backend a benchmark runs on; `--device` applies to onnx, `--runtime` to tfjs. */
export async function createBenchBackend(options: Record<string, string | boolean | undefined>): Promise<Backend> {
  if (options.backend === 'onnx') return createOnnxBackend({ device: options.device as 'cpu' | 'webgpu' });
  if (options.backend !== 'tfjs') throw new Error(`--backend must be onnx or tfjs, got ${String(options.backend)}`);
  // Imported by path, and only when asked for: the bench workspace does not depend on @nnd/backend-tfjs.
  const { createTfjsBackend } = await import('../packages/backend-tfjs/src/index.js');
  return createTfjsBackend(options.runtime === undefined ? {} : { runtime: options.runtime as 'wasm' });
}
