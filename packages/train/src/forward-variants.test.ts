import { createOnnxBackend } from '@nnd/backend-onnx';
import { mul, type Backend, type Decomposition, type ForwardOptions } from '@nnd/core';
import { createSae, NO_DEAD_FEATURES } from '@nnd/sae';
import { describe, expect, it } from 'vitest';
import { linearDecomposition } from './linear-decomposition.test-support.js';
import { gaussianSource } from './synthetic-source.test-support.js';
import { trainDecomposition, trainDecompositionGroup } from './train-decomposition.js';

/**
 * Records, for every program the backend compiles, the variant each decomposition's forward was last built with: the
 * trainer builds a step's graph and compiles it at once (it also builds the full step's graph for its metric names
 * alone, which this does not count).
 */
function recordingCompiles<D extends Decomposition>(decompositions: readonly D[]): { decompositions: D[]; backend: Backend; compiled: (string | undefined)[][] } {
  const lastBuilt: (string | undefined)[] = decompositions.map(() => undefined);
  const compiled: (string | undefined)[][] = [];
  const backend = createOnnxBackend();
  const compile = backend.compile.bind(backend);
  Object.assign(backend, {
    compile: (...args: Parameters<Backend['compile']>) => {
      compiled.push([...lastBuilt]);
      return compile(...args);
    },
  });
  return {
    backend,
    compiled,
    decompositions: decompositions.map((decomposition, index) => ({
      ...decomposition,
      forward: (graph, x, params, state, options?: ForwardOptions) => {
        lastBuilt[index] = options?.variant;
        return decomposition.forward(graph, x, params, state, options);
      },
    })),
  };
}

/** A TopK SAE whose fresh dead-feature counters are `start` instead of 0 (as if features had been quiet that long). */
function withStartCounters(decomposition: Decomposition, start: number): Decomposition {
  return {
    ...decomposition,
    initialState: () => Object.fromEntries(Object.entries(decomposition.initialState()).map(([name, tensor]) => [name, { ...tensor, data: (tensor.data as Float32Array).map(() => start) }])),
  };
}

describe('forward variants', () => {
  it('takes the full forward on the first step of a variant without appliesAtStart, then the variant whenever it applies to the previous metrics', async () => {
    const base = linearDecomposition({ act_size: 6, dict_size: 4, l1_coeff: 0.01 });
    // A variant that is not exact (it halves the l1 loss), so the steps it ran are visible in the metrics.
    const withVariant: Decomposition = {
      ...base,
      variants: [{ name: 'half_l1', applies: (previous) => previous.l1_norm < 1e9 && previous.l1_loss !== undefined }],
      forward(graph, x, params, state, options) {
        const output = base.forward(graph, x, params, state);
        if (options?.variant === undefined) return output;
        expect(options.variant).toBe('half_l1');
        return { ...output, losses: { ...output.losses, l1_loss: mul(output.losses.l1_loss, 0.5) } };
      },
    };
    const { decompositions, backend, compiled } = recordingCompiles([withVariant]);
    const logged: Record<string, number>[] = [];
    await trainDecomposition(
      decompositions[0],
      gaussianSource(8, 6, 3),
      { num_tokens: 8 * 4, batch_size: 8, lr: 1e-3, log_freq: 1 },
      { backend, logger: { log: (metrics) => void logged.push(metrics) } },
    );
    expect(compiled).toEqual([[undefined], ['half_l1']]);
    expect(logged).toHaveLength(4);
    // Step 0 ran the full forward: l1_loss = l1_coeff * l1_norm; steps 1-3 the variant: half of it.
    expect(logged[0].l1_loss).toBeCloseTo(0.01 * logged[0].l1_norm, 6);
    for (const metrics of logged.slice(1)) expect(metrics.l1_loss).toBeCloseTo(0.005 * metrics.l1_norm, 6);
  });

  it('refuses a variant that reports different metrics than the full forward', async () => {
    const base = linearDecomposition({ act_size: 6, dict_size: 4, l1_coeff: 0.01 });
    const broken: Decomposition = {
      ...base,
      variants: [{ name: 'fewer_metrics', applies: () => true }],
      forward(graph, x, params, state, options) {
        const output = base.forward(graph, x, params, state);
        return options?.variant ? { ...output, metrics: {} } : output;
      },
    };
    await expect(trainDecomposition(broken, gaussianSource(8, 6, 3), { num_tokens: 8 * 3, batch_size: 8 }, { backend: createOnnxBackend() })).rejects.toThrow(
      /variant 'fewer_metrics' of decomposition 0 reports losses and metrics \[.*\], but the full forward reports \[.*l1_norm.*\]/,
    );
    // The same when the variant is the first program compiled: the full forward's names come from its graph, uncompiled.
    const brokenFromStart: Decomposition = { ...broken, variants: [{ name: 'fewer_metrics', applies: () => true, appliesAtStart: () => true }] };
    await expect(trainDecomposition(brokenFromStart, gaussianSource(8, 6, 3), { num_tokens: 8 * 3, batch_size: 8 }, { backend: createOnnxBackend() })).rejects.toThrow(
      /variant 'fewer_metrics' of decomposition 0 reports losses and metrics \[.*\], but the full forward reports \[.*l1_norm.*\]/,
    );
  });

  for (const architecture of ['topk', 'batchtopk'] as const) {
    it(`${architecture}: a short fresh run compiles only the step without the auxiliary loss, since no feature can be dead yet`, async () => {
      const saeConfig = { act_size: 16, dict_size: 32, top_k: 4, n_batches_to_dead: 5, seed: 3 };
      const { decompositions, backend, compiled } = recordingCompiles([createSae({ architecture, ...saeConfig })]);
      const logged: Record<string, number>[] = [];
      await trainDecomposition(decompositions[0], gaussianSource(8, 16, 6), { num_tokens: 8 * 3, batch_size: 8, log_freq: 1 }, { backend, logger: { log: (metrics) => void logged.push(metrics) } });
      expect(compiled).toEqual([[NO_DEAD_FEATURES]]);
      expect(logged.map((metrics) => metrics.aux_loss)).toEqual([0, 0, 0]);
    });

    it(`${architecture}: a run that starts with counters that can reach n_batches_to_dead takes the full forward at once`, async () => {
      const saeConfig = { act_size: 16, dict_size: 96, top_k: 2, n_batches_to_dead: 5, seed: 3 };
      // Counters at n_batches_to_dead - 1: every feature this batch leaves quiet is dead after it.
      const { decompositions, backend, compiled } = recordingCompiles([withStartCounters(createSae({ architecture, ...saeConfig }), 4)]);
      const logged: Record<string, number>[] = [];
      await trainDecomposition(decompositions[0], gaussianSource(8, 16, 6), { num_tokens: 8 * 2, batch_size: 8, log_freq: 1 }, { backend, logger: { log: (metrics) => void logged.push(metrics) } });
      expect(compiled[0]).toEqual([undefined]);
      expect(logged[0].n_dead_in_batch).toBeGreaterThan(0);
      expect(logged[0].aux_loss).toBeGreaterThan(0);
      // One counter below the threshold that far: the first step's counters reach at most 4, so it is exact without the auxiliary loss.
      const below = recordingCompiles([withStartCounters(createSae({ architecture, ...saeConfig }), 3)]);
      await trainDecomposition(below.decompositions[0], gaussianSource(8, 16, 6), { num_tokens: 8, batch_size: 8 }, { backend: below.backend });
      expect(below.compiled).toEqual([[NO_DEAD_FEATURES]]);
    });

    it(`${architecture}: skipping the auxiliary loss while no feature can be dead trains exactly as always computing it`, async () => {
      // Few samples and a wide dictionary: features go quiet for n_batches_to_dead batches and the auxiliary loss switches on.
      const saeConfig = { act_size: 16, dict_size: 96, top_k: 2, top_k_aux: 8, n_batches_to_dead: 6, seed: 11, sparse_decoder: true };
      const trainConfig = { num_tokens: 8 * 24, batch_size: 8, lr: 1e-3, seed: 11, log_freq: 1 };
      const logged: Record<string, number>[] = [];
      const { decompositions, backend, compiled } = recordingCompiles([createSae({ architecture, ...saeConfig })]);
      const switching = await trainDecomposition(decompositions[0], gaussianSource(8, 16, 4), trainConfig, {
        backend,
        logger: { log: (metrics) => void logged.push(metrics) },
      });
      const always = await trainDecomposition({ ...createSae({ architecture, ...saeConfig }), variants: [] }, gaussianSource(8, 16, 4), trainConfig, { backend: createOnnxBackend() });

      // Both programs ran: the cheap one from the first step, the full one once features were dead (aux_loss > 0).
      expect(compiled).toEqual([[NO_DEAD_FEATURES], [undefined]]);
      // The fresh counters are 0, so step 0 is cheap; later steps are when the step before left every counter below n_batches_to_dead - 1.
      const cheapSteps = logged.filter((_, step) => step === 0 || logged[step - 1].max_batches_not_active < saeConfig.n_batches_to_dead - 1);
      expect(cheapSteps.length).toBeGreaterThanOrEqual(4);
      expect(cheapSteps.every((metrics) => metrics.aux_loss === 0)).toBe(true);
      expect(logged.some((metrics) => metrics.aux_loss > 0)).toBe(true);
      for (const [name, tensor] of Object.entries(always.params)) {
        const expected = tensor.data as Float32Array;
        const actual = switching.params[name].data as Float32Array;
        const scale = Math.max(...expected.map(Math.abs));
        const worst = Math.max(...actual.map((value, index) => Math.abs(value - expected[index])));
        expect(worst, name).toBeLessThanOrEqual(1e-5 * scale);
      }
      expect(Array.from(switching.state.num_batches_not_active.data as Float32Array)).toEqual(Array.from(always.state.num_batches_not_active.data as Float32Array));
    });
  }

  it('chooses variants per member of a group', async () => {
    const saeConfig = { act_size: 16, dict_size: 96, top_k: 2, seed: 2 };
    const { decompositions, backend, compiled } = recordingCompiles([
      createSae({ architecture: 'topk', ...saeConfig }),
      // Counters that can reach n_batches_to_dead in the first batch: this member needs the auxiliary loss from step 0.
      withStartCounters(createSae({ architecture: 'topk', ...saeConfig }), 4),
      // aux_penalty 0 has no variants: its forward is already the cheap one.
      createSae({ architecture: 'topk', ...saeConfig, aux_penalty: 0 }),
    ]);
    const trainConfig = { num_tokens: 8 * 3, batch_size: 8 };
    await trainDecompositionGroup(decompositions, gaussianSource(8, 16, 5), [trainConfig, trainConfig, trainConfig], { backend });
    expect(compiled).toEqual([[NO_DEAD_FEATURES, undefined, undefined]]);
  });
});
