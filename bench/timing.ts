import type { ActivationSource, Decomposition } from '@nnd/core';
import { createBenchBackend } from './backend-option.js';

/** Median of `runs` timed calls after `warmup` untimed ones, in milliseconds. */
export async function medianMs(fn: () => Promise<unknown>, runs: number, warmup = 1): Promise<{ median: number; samples: number[] }> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  return { median: medianOf(samples), samples };
}

/** Median of a list, as `medianMs` reports it. */
function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export interface TimedTraining {
  readonly backend: string;
  readonly device: string;
  /** Wall time of each step after the warm-up, in milliseconds. */
  readonly samples: number[];
  readonly msPerStep: number;
  /** CPU time (user + system, all threads) per step: on a shared machine it depends much less on what else runs. */
  readonly cpuMsPerStep: number;
  /** The process's peak resident memory (maxRSS), in MB. */
  readonly peakRssMb: number;
  /** From the start to the end of the first step (the one a fresh run takes, without a variant's full forward): compilation included. */
  readonly firstStepMs: number;
  /** CPU time (all threads) of the same span: on a loaded machine the steadier number. */
  readonly firstStepCpuMs: number;
}

/**
 * The decomposition with its variants declined for step 1 (when `choosingStepOne`
 * holds), so that step 1 takes the full forward. A run takes it once features
 * die (TopK's auxiliary loss), which a few steps on random batches never
 * see; this way step 0 is the step a fresh run takes, and the run still
 * compiles and runs the full program once, so that its cost shows in
 * `peak_rss_mb`.
 */
function withFullStepAtStepOne(decomposition: Decomposition, choosingStepOne: () => boolean): Decomposition {
  if (decomposition.variants === undefined || decomposition.variants.length === 0) return decomposition;
  return { ...decomposition, variants: decomposition.variants.map((variant) => ({ ...variant, applies: (previous) => !choosingStepOne() && variant.applies(previous) })) };
}

/**
 * Trains a decomposition for `warmup + steps` steps through the real trainer
 * (`@nnd/train`, the benchmark's own backend options) and times every step
 * from the logger's per-step calls: what `bench sae`, `transcoder`, `clt`
 * and `molt` all measure.
 */
export async function timeTrainingSteps(
  decomposition: Decomposition,
  source: ActivationSource,
  settings: { readonly batchSize: number; readonly steps: number; readonly warmup: number; readonly trainConfig?: Record<string, unknown> },
  options: Parameters<typeof createBenchBackend>[0],
  log: (message: string) => void,
): Promise<TimedTraining> {
  const { trainDecomposition } = await import('@nnd/train');
  const { batchSize, steps, warmup } = settings;
  const stamps: number[] = [];
  const cpuStamps: number[] = [];
  const start = performance.now();
  const startCpu = process.cpuUsage();
  const backend = await createBenchBackend(options);
  try {
    await trainDecomposition(
      withFullStepAtStepOne(decomposition, () => stamps.length === 1),
      source,
      {
        num_tokens: batchSize * (warmup + steps),
        batch_size: batchSize,
        log_freq: 1,
        perf_log_freq: 1e9,
        checkpoint_freq: 1e9,
        ...settings.trainConfig,
      },
      {
        backend,
        handleSignals: false,
        logger: {
          log(metrics, step) {
            stamps.push(performance.now());
            const { user, system } = process.cpuUsage();
            cpuStamps.push((user + system) / 1000);
            log(`step ${step}: ${(stamps[stamps.length - 1] - (stamps[stamps.length - 2] ?? start)).toFixed(0)} ms, loss ${metrics.loss.toPrecision(4)}, l0 ${metrics.l0_norm?.toFixed(1)}`);
          },
        },
      },
    );
  } finally {
    await backend.dispose();
  }
  const samples = stamps.slice(warmup).map((stamp, index) => stamp - stamps[warmup - 1 + index]);
  const cpuSamples = cpuStamps.slice(warmup).map((stamp, index) => stamp - cpuStamps[warmup - 1 + index]);
  const timed = {
    backend: backend.name,
    device: backend.capabilities.device,
    samples,
    msPerStep: medianOf(samples),
    cpuMsPerStep: medianOf(cpuSamples),
    // maxRSS is in kilobytes.
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    firstStepMs: stamps[0] - start,
    firstStepCpuMs: cpuStamps[0] - (startCpu.user + startCpu.system) / 1000,
  };
  log(
    `${decomposition.architecture} on ${timed.backend} ${timed.device}: ${timed.msPerStep.toFixed(0)} ms per step median (${samples.map((sample) => sample.toFixed(0)).join(', ')}), CPU ${timed.cpuMsPerStep.toFixed(0)} ms per step, peak RSS ${timed.peakRssMb.toFixed(0)} MB`,
  );
  return timed;
}
