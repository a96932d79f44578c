import { createOnnxBackend } from '@nnd/backend-onnx';
import { hostTensor, Rng } from '@nnd/core';
import { afterAll, describe, expect, it } from 'vitest';
import { SAE_ARCHITECTURES } from './sae-config.js';
import { createSae } from './sae-registry.js';
import { buildForward, evaluateNamed, forwardFeeds, gradientOutputs, maxRelativeError, randomTensor, values } from './test-support.js';

describe('all SAE types on onnxruntime (CPU, float32) match the float64 reference interpreter', () => {
  const backend = createOnnxBackend({ device: 'cpu' });
  afterAll(() => backend.dispose());

  it.each(SAE_ARCHITECTURES)('%s: losses, metrics, next state and gradients', async (architecture) => {
    const sae = createSae({
      architecture,
      act_size: 6,
      dict_size: 16,
      l1_coeff: 0.05,
      input_unit_norm: architecture === 'topk',
      ...(architecture.includes('topk') ? { top_k: 3, top_k_aux: 4 } : {}),
      ...(architecture === 'jumprelu' ? { bandwidth: 0.5 } : {}),
    });
    const rng = new Rng(41);
    const params = sae.initialParams();
    if (architecture === 'jumprelu') params.log_threshold = randomTensor(rng, [16], 'float32', 0.2, -1.5);
    const state = {
      ...sae.initialState(),
      num_batches_not_active: hostTensor(
        'float32',
        [16],
        Array.from({ length: 16 }, (_, i) => i % 8),
      ),
    };
    const x = randomTensor(rng, [5, 6]);
    const named = (built: ReturnType<typeof buildForward>) => ({
      reconstruction: built.output.reconstruction,
      ...Object.fromEntries(Object.entries({ ...built.output.losses, ...built.output.metrics }).map(([name, tensor]) => [name, tensor])),
      ...Object.fromEntries(Object.entries(built.output.nextState).map(([name, tensor]) => [`next.${name}`, tensor])),
      ...gradientOutputs(built),
    });
    const reference = buildForward(sae, 'batch');
    const expected = evaluateNamed(reference.graph, named(reference), forwardFeeds(x, params, state));
    const built = buildForward(sae, 'batch', 'float32');
    const outputs = named(built);
    const program = await backend.compile(built.graph, { outputs });
    const result = await program.run(forwardFeeds(x, params, state, 'float32'));
    for (const name of Object.keys(outputs)) {
      expect(maxRelativeError(values(await result[name].toHost()), values(expected[name])), name).toBeLessThan(1e-5);
    }
    await program.dispose();
  });
});
