import { createOnnxBackend } from '@nnd/backend-onnx';
import { mul, type Decomposition, type ForwardOptions } from '@nnd/core';
import { createSae, NO_DEAD_FEATURES } from '@nnd/sae';
import { describe, expect, it } from 'vitest';
import { linearDecomposition } from './linear-decomposition.test-support.js';
import { gaussianSource } from './synthetic-source.test-support.js';
import { trainDecomposition, trainDecompositionGroup } from './train-decomposition.js';

/** Records which variant each compiled program was built with (forward runs once per program build). */
function recordingBuilds<D extends Decomposition>(decomposition: D): { decomposition: D; builds: (string | undefined)[] } {
  const builds: (string | undefined)[] = [];
  return {
    builds,
    decomposition: {
      ...decomposition,
      forward: (graph, x, params, state, options?: ForwardOptions) => {
        builds.push(options?.variant);
        return decomposition.forward(graph, x, params, state, options);
      },
    },
  };
}

describe('forward variants', () => {
  it('takes the full forward on the first step, then the variant whenever it applies to the previous metrics', async () => {
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
    const { decomposition, builds } = recordingBuilds(withVariant);
    const logged: Record<string, number>[] = [];
    await trainDecomposition(
      decomposition,
      gaussianSource(8, 6, 3),
      { num_tokens: 8 * 4, batch_size: 8, lr: 1e-3, log_freq: 1 },
      {
        backend: createOnnxBackend(),
        logger: { log: (metrics) => void logged.push(metrics) },
      },
    );
    expect(builds).toEqual([undefined, 'half_l1']);
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
  });

  for (const architecture of ['topk', 'batchtopk'] as const) {
    it(`${architecture}: skipping the auxiliary loss while no feature can be dead trains exactly as always computing it`, async () => {
      // Few samples and a wide dictionary: features go quiet for n_batches_to_dead batches and the auxiliary loss switches on.
      const saeConfig = { act_size: 16, dict_size: 96, top_k: 2, top_k_aux: 8, n_batches_to_dead: 6, seed: 11, sparse_decoder: true };
      const trainConfig = { num_tokens: 8 * 24, batch_size: 8, lr: 1e-3, seed: 11, log_freq: 1 };
      const logged: Record<string, number>[] = [];
      const { decomposition, builds } = recordingBuilds(createSae({ architecture, ...saeConfig }));
      const switching = await trainDecomposition(decomposition, gaussianSource(8, 16, 4), trainConfig, {
        backend: createOnnxBackend(),
        logger: { log: (metrics) => void logged.push(metrics) },
      });
      const always = await trainDecomposition({ ...createSae({ architecture, ...saeConfig }), variants: [] }, gaussianSource(8, 16, 4), trainConfig, { backend: createOnnxBackend() });

      // Both programs ran: the cheap one early, the full one once features were dead (aux_loss > 0).
      expect(builds).toEqual([undefined, NO_DEAD_FEATURES]);
      const cheapSteps = logged.slice(1).filter((_, step) => logged[step].max_batches_not_active < saeConfig.n_batches_to_dead - 1);
      expect(cheapSteps.length).toBeGreaterThanOrEqual(3);
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
    const saeConfig = { act_size: 16, dict_size: 32, top_k: 4, seed: 2 };
    const withAux = recordingBuilds(createSae({ architecture: 'topk', ...saeConfig }));
    const withoutAux = recordingBuilds(createSae({ architecture: 'topk', ...saeConfig, aux_penalty: 0 }));
    const trainConfig = { num_tokens: 8 * 3, batch_size: 8 };
    await trainDecompositionGroup([withAux.decomposition, withoutAux.decomposition], gaussianSource(8, 16, 5), [trainConfig, trainConfig], { backend: createOnnxBackend() });
    // aux_penalty 0 has no variants: its forward is already the cheap one.
    expect(withAux.builds).toEqual([undefined, NO_DEAD_FEATURES]);
    expect(withoutAux.builds).toEqual([undefined, undefined]);
  });
});
