import { createOnnxBackend } from '@nnd/backend-onnx';
import { createReferenceBackend, NndError } from '@nnd/core';
import { createSae, loadSae, saveSae } from '@nnd/sae';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readCheckpoint } from './checkpoint.js';
import { linearDecomposition } from './linear-decomposition.test-support.js';
import { gaussianSource } from './synthetic-source.test-support.js';
import { trainDecomposition } from './train-decomposition.js';
import { TrainingDivergedError } from './training-diverged-error.js';

const makeSae = () => linearDecomposition({ act_size: 6, dict_size: 4, l1_coeff: 0.01 });
const config = { num_tokens: 16 * 10, batch_size: 16, lr: 0.01, max_grad_norm: 1, checkpoint_freq: 3, seed: 5 };

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-train-'));
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('trainDecomposition resume', () => {
  it('continues an interrupted run so that it ends where an uninterrupted run ends (within 1e-6)', async () => {
    const uninterrupted = await trainDecomposition(makeSae(), gaussianSource(16, 6, 1), config, { backend: createOnnxBackend() });
    expect(uninterrupted.step).toBe(10);

    // The first run stops after 4 steps (not a multiple of checkpoint_freq), as a SIGINT would stop it.
    const controller = new AbortController();
    const first = await trainDecomposition(makeSae(), gaussianSource(16, 6, 1), config, {
      backend: createOnnxBackend(),
      checkpointDir: directory,
      signal: controller.signal,
      logger: { log: (_, step) => (step === 3 ? controller.abort() : undefined) },
    });
    expect(first.status).toBe('interrupted');
    expect(first.step).toBe(4);
    expect((await readdir(directory)).sort()).toEqual(['step_3', 'step_4']);

    // A fresh trainer, backend, decomposition and source, as in a new process.
    const resumed = await trainDecomposition(makeSae(), gaussianSource(16, 6, 1), config, {
      backend: createOnnxBackend(),
      checkpointDir: directory,
      resumeFrom: directory,
    });
    expect(resumed.status).toBe('completed');
    expect(resumed.step).toBe(10);
    expect(Array.from(resumed.state.counter.data as Float32Array)).toEqual([10]);
    for (const name of ['W', 'b']) {
      const expected = uninterrupted.params[name].data as Float32Array;
      (resumed.params[name].data as Float32Array).forEach((value, index) => expect(Math.abs(value - expected[index])).toBeLessThanOrEqual(1e-6));
    }
    expect((await readdir(directory)).sort()).toEqual(['step_10', 'step_3', 'step_4', 'step_6', 'step_9']);
  });

  it('resumes from an explicit step directory and moves a source without seek by reading batches', async () => {
    const uninterrupted = await trainDecomposition(makeSae(), gaussianSource(16, 6, 2), config, { backend: createReferenceBackend() });
    await trainDecomposition(makeSae(), gaussianSource(16, 6, 2), { ...config, num_tokens: 16 * 6 }, { backend: createReferenceBackend(), checkpointDir: directory });
    const { seek: _, ...withoutSeek } = gaussianSource(16, 6, 2);
    const resumed = await trainDecomposition(makeSae(), { nextBatch: withoutSeek.nextBatch.bind(withoutSeek) } as never, config, {
      backend: createReferenceBackend(),
      resumeFrom: join(directory, 'step_3'),
    });
    expect(Array.from(resumed.params.W.data as Float32Array)).toEqual(Array.from(uninterrupted.params.W.data as Float32Array));
  });

  it("records the source's resumePosition() in each checkpoint and hands it back to seek on resume", async () => {
    /** A source whose position is a token it names itself, so the test sees that the trainer only stores and returns it. */
    const positioned = () => {
      const inner = gaussianSource(16, 6, 3);
      const seeks: unknown[][] = [];
      return {
        seeks,
        nextBatch: () => inner.nextBatch(),
        resumePosition: () => ({ served: inner.position, note: `after ${inner.position}` }),
        seek(batchIndex: number, position?: unknown) {
          seeks.push([batchIndex, position]);
          inner.seek!(batchIndex);
        },
      };
    };
    const uninterrupted = await trainDecomposition(makeSae(), gaussianSource(16, 6, 3), config, { backend: createReferenceBackend() });
    await trainDecomposition(makeSae(), positioned(), { ...config, num_tokens: 16 * 4 }, { backend: createReferenceBackend(), checkpointDir: directory });
    expect((await readCheckpoint(join(directory, 'step_3'))).sourcePosition).toEqual({ served: 3, note: 'after 3' });
    expect((await readCheckpoint(join(directory, 'step_4'))).sourcePosition).toEqual({ served: 4, note: 'after 4' });
    const source = positioned();
    const resumed = await trainDecomposition(makeSae(), source, config, { backend: createReferenceBackend(), resumeFrom: directory });
    expect(source.seeks).toEqual([[4, { served: 4, note: 'after 4' }]]);
    expect(Array.from(resumed.params.W.data as Float32Array)).toEqual(Array.from(uninterrupted.params.W.data as Float32Array));
  });

  it('follows the divergence advice: lower lr and max_grad_norm and resume from the last good checkpoint, with a warning per change', async () => {
    await trainDecomposition(makeSae(), gaussianSource(16, 6, 1), { ...config, num_tokens: 16 * 4 }, { backend: createReferenceBackend(), checkpointDir: directory });
    // Continued with an lr that overflows the parameters, the run diverges after the step_4 it resumed from.
    const warnings: string[] = [];
    const error = await trainDecomposition(
      makeSae(),
      gaussianSource(16, 6, 1),
      { ...config, lr: 1e30 },
      {
        backend: createReferenceBackend(),
        checkpointDir: directory,
        resumeFrom: directory,
        warn: (line) => warnings.push(line),
      },
    ).catch((caught: unknown) => caught);
    expect(warnings).toEqual(['resuming with lr 1e+30 (the checkpoint trained with 0.01)']);
    expect(error).toBeInstanceOf(TrainingDivergedError);
    const diverged = error as TrainingDivergedError;
    expect(diverged.message).toMatch(/Lower lr or max_grad_norm and resume from it\.|lower lr or max_grad_norm and resume from it\./);
    expect(diverged.lastCheckpoint).toBe(join(directory, 'step_4'));

    // Doing what the message says.
    warnings.length = 0;
    const resumed = await trainDecomposition(
      makeSae(),
      gaussianSource(16, 6, 1),
      { ...config, lr: 0.005, max_grad_norm: 0.5 },
      {
        backend: createReferenceBackend(),
        checkpointDir: directory,
        resumeFrom: diverged.lastCheckpoint,
        warn: (line) => warnings.push(line),
      },
    );
    expect(warnings).toEqual(['resuming with lr 0.005 (the checkpoint trained with 0.01)', 'resuming with max_grad_norm 0.5 (the checkpoint trained with 1)']);
    expect(resumed).toMatchObject({ status: 'completed', step: 10 });
    expect((resumed.params.W.data as Float32Array).every(Number.isFinite)).toBe(true);
    // The run goes on under the new settings: its later checkpoints record them.
    expect((await readCheckpoint(join(directory, 'step_10'))).members[0].trainConfig).toMatchObject({ lr: 0.005, max_grad_norm: 0.5 });
  });

  it('still refuses a changed seed, batch_size or decomposition shape, saying what may change', async () => {
    await trainDecomposition(makeSae(), gaussianSource(16, 6, 1), { ...config, num_tokens: 48 }, { backend: createReferenceBackend(), checkpointDir: directory });
    const resume = (sae: ReturnType<typeof makeSae>, changed: object) =>
      trainDecomposition(sae, gaussianSource(16, 6, 1), { ...config, ...changed }, { backend: createReferenceBackend(), resumeFrom: directory });
    await expect(resume(makeSae(), { seed: 6 })).rejects.toThrow(/train config 'seed' was 5 and is now 6; batch_size and seed must stay the same/);
    await expect(resume(makeSae(), { batch_size: 8 })).rejects.toThrow(/train config 'batch_size' was 16 and is now 8/);
    await expect(resume(linearDecomposition({ act_size: 6, dict_size: 5, l1_coeff: 0.01 }), {})).rejects.toThrow(
      /decomposition config differs.*Only the optimizer's settings \(lr, beta1, beta2, max_grad_norm\) may change/,
    );
  });
});

describe('trainDecomposition divergence', () => {
  it('stops at a NaN loss with TrainingDivergedError and keeps the last good checkpoint', async () => {
    const error = await trainDecomposition(
      makeSae(),
      gaussianSource(16, 6, 1, { nanAtBatch: 7 }),
      { ...config, checkpoint_freq: 2 },
      {
        backend: createOnnxBackend(),
        checkpointDir: directory,
      },
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TrainingDivergedError);
    expect(NndError.isInstance(error)).toBe(true);
    const diverged = error as TrainingDivergedError;
    expect(diverged.step).toBe(7);
    expect(diverged.lastCheckpoint).toBe(join(directory, 'step_6'));
    expect(diverged.message).toMatch(/at step 7: loss is NaN.*last good checkpoint is .*step_6/);
    expect((await readdir(directory)).sort()).toEqual(['step_2', 'step_4', 'step_6']);
    const kept = await readCheckpoint(join(directory, 'step_6'));
    expect(kept.step).toBe(6);
    expect((kept.members[0].params.W.data as Float32Array).every(Number.isFinite)).toBe(true);
  });
});

describe('trainDecomposition callbacks', () => {
  it('logs every log_freq steps and evaluates every perf_log_freq steps with host copies of the parameters', async () => {
    const loggedSteps: number[] = [];
    const evaluated: { step: number; counter: number }[] = [];
    await trainDecomposition(
      makeSae(),
      gaussianSource(16, 6, 1),
      { ...config, log_freq: 4, perf_log_freq: 5 },
      {
        backend: createOnnxBackend(),
        logger: { log: (metrics, step) => void loggedSteps.push(step) },
        onEvaluate: (step, saes) => {
          expect(saes).toHaveLength(1);
          expect(saes[0].params.W.shape).toEqual([6, 4]);
          evaluated.push({ step, counter: Number(saes[0].state.counter.data[0]) });
        },
      },
    );
    expect(loggedSteps).toEqual([0, 4, 8]);
    // Evaluation at step s sees the parameters after s updates, as the seed's log_model_performance.
    expect(evaluated).toEqual([
      { step: 0, counter: 0 },
      { step: 5, counter: 5 },
    ]);
  });

  it('takes no step when the signal was aborted before training', async () => {
    const result = await trainDecomposition(makeSae(), gaussianSource(16, 6, 1), config, { backend: createReferenceBackend(), signal: AbortSignal.abort(), checkpointDir: directory });
    expect(result.status).toBe('interrupted');
    expect(result.step).toBe(0);
    expect(await readdir(directory)).toEqual([]);
  });

  it('rejects a batch of the wrong size', async () => {
    await expect(trainDecomposition(makeSae(), { nextBatch: async () => new Float32Array(10) }, config, { backend: createReferenceBackend() })).rejects.toThrow(
      /returned 10 values for 'activations', which is not batch_size \(16\) x width \(6\)/,
    );
  });
});

describe("trainDecomposition with a decomposition package's file writer", () => {
  it('writes SAELens files through saveSae and still resumes exactly', async () => {
    const makeJumpRelu = () => createSae({ architecture: 'jumprelu', act_size: 6, dict_size: 8, l1_coeff: 1e-3, bandwidth: 1 });
    const jumpConfig = { num_tokens: 16 * 6, batch_size: 16, lr: 0.01, checkpoint_freq: 3 };
    const uninterrupted = await trainDecomposition(makeJumpRelu(), gaussianSource(16, 6, 4), jumpConfig, { backend: createOnnxBackend() });
    await trainDecomposition(
      makeJumpRelu(),
      gaussianSource(16, 6, 4),
      { ...jumpConfig, num_tokens: 16 * 3 },
      {
        backend: createOnnxBackend(),
        checkpointDir: directory,
        saveFiles: saveSae,
      },
    );
    // The checkpoint is an SAE folder that @nnd/sae loads (JumpReLU's threshold = exp(log_threshold) there).
    const loaded = await loadSae(join(directory, 'step_3'));
    expect(loaded.sae.architecture).toBe('jumprelu');
    expect(loaded.params.W_dec.shape).toEqual([8, 6]);
    const resumed = await trainDecomposition(makeJumpRelu(), gaussianSource(16, 6, 4), jumpConfig, {
      backend: createOnnxBackend(),
      resumeFrom: directory,
      saveFiles: saveSae,
    });
    for (const name of Object.keys(uninterrupted.params)) {
      expect(Array.from(resumed.params[name].data as Float32Array)).toEqual(Array.from(uninterrupted.params[name].data as Float32Array));
    }
  });
});
