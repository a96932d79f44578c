import { readFileSync } from 'node:fs';
import { hostTensor, readSafetensors, toTypedArray, type Backend, type HostTensor } from '@nnd/core';
import { trainDecomposition } from '@nnd/train';
import type { CrossLayerTranscoder } from './cross-layer-transcoder.js';

/** Test helpers (not exported from the package). */

const FIXTURES = new URL('../fixtures/reference-steps/', import.meta.url);
export const TRANSCODER_FIXTURES = new URL('../fixtures/transcoder-steps/', import.meta.url);

export interface ReferenceCase {
  readonly json: {
    config: Record<string, any>;
    parameters: string[];
    steps: Record<string, any>[];
  };
  readonly tensors: Record<string, HostTensor>;
}

export function loadCase(name: string, folder: URL = FIXTURES): ReferenceCase {
  const json = JSON.parse(readFileSync(new URL(`${name}.json`, folder), 'utf8'));
  const tensors: Record<string, HostTensor> = {};
  for (const [key, tensor] of readSafetensors(readFileSync(new URL(`${name}.safetensors`, folder))).tensors) {
    tensors[key] = hostTensor('float32', tensor.shape, toTypedArray(tensor) as Float32Array);
  }
  return { json, tensors };
}

/** The tensors whose names start with `prefix.`, without the prefix. */
export function withPrefix(tensors: Record<string, HostTensor>, prefix: string): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const [name, tensor] of Object.entries(tensors)) if (name.startsWith(`${prefix}.`)) out[name.slice(prefix.length + 1)] = tensor;
  return out;
}

/** Largest |a - b| over the elements, divided by the largest |b| (the tensor's scale). */
export function relativeError(actual: HostTensor, expected: HostTensor): number {
  const a = actual.data as Float32Array;
  const b = expected.data as Float32Array;
  if (a.length !== b.length) return Infinity;
  let scale = 1e-12;
  for (const value of b) scale = Math.max(scale, Math.abs(value));
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst / scale;
}

/** A source of the given batches keyed by hook, one Float32Array per stream. */
export function batchesSource(batches: readonly Record<string, Float32Array>[]) {
  let position = 0;
  return {
    async nextBatch() {
      return batches[position++ % batches.length];
    },
  };
}

export interface TrainedSteps {
  /** The logged metrics of each step. */
  readonly metrics: Record<string, number>[];
  /** Parameters and state after each step (index 0: after step 1). */
  readonly snapshots: { params: Record<string, HostTensor>; state: Record<string, HostTensor> }[];
}

/**
 * Trains `clt` through the real trainer for one step per batch, from the
 * given tensors, and records every step's metrics and the tensors after it.
 */
export async function trainSteps(
  clt: CrossLayerTranscoder,
  initial: { params: Record<string, HostTensor>; state?: Record<string, HostTensor> },
  batches: readonly Record<string, Float32Array>[],
  train: { batch_size: number; lr?: number; beta1?: number; beta2?: number; max_grad_norm?: number },
  backend: Backend,
): Promise<TrainedSteps> {
  const metrics: Record<string, number>[] = [];
  const snapshots = new Map<number, { params: Record<string, HostTensor>; state: Record<string, HostTensor> }>();
  const result = await trainDecomposition(
    clt,
    batchesSource(batches),
    {
      ...train,
      num_tokens: train.batch_size * batches.length,
      log_freq: 1,
      perf_log_freq: 1,
      checkpoint_freq: 1e9,
    },
    {
      backend,
      handleSignals: false,
      initialTensors: [initial],
      logger: {
        log: (logged) => {
          metrics.push({ ...logged });
        },
      },
      onEvaluate: (step, [member]) => {
        snapshots.set(step, { params: member.params, state: member.state });
      },
    },
  );
  snapshots.set(batches.length, { params: result.params, state: result.state });
  return { metrics, snapshots: batches.map((_, index) => snapshots.get(index + 1)!) };
}
