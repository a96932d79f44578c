import { Rng } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { createSae } from './sae-registry.js';
import { buildForward, evaluateNamed, forwardFeeds, randomTensor, values } from './test-support.js';

describe('decoderDirections', () => {
  for (const architecture of ['vanilla', 'topk', 'batchtopk', 'jumprelu'] as const) {
    it(`${architecture}: the reconstruction is b_dec plus each feature's activation times its direction`, () => {
      const sae = createSae({ architecture, act_size: 6, dict_size: 10, hook_point: 'blocks.0.hook_resid_pre', ...(architecture === 'topk' || architecture === 'batchtopk' ? { top_k: 3 } : {}) });
      const built = buildForward(sae, 5);
      const directions = sae.decoderDirections(built.graph, built.params);
      expect(Object.keys(directions)).toEqual(['blocks.0.hook_resid_pre']);
      const params = sae.initialParams(new Rng(1));
      // Large inputs, so that JumpReLU's initial thresholds let features through.
      const x = randomTensor(new Rng(2), [5, 6], 'float64', 4);
      const out = evaluateNamed(
        built.graph,
        {
          acts: built.output.featureActs,
          reconstruction: built.output.reconstruction,
          directions: directions['blocks.0.hook_resid_pre']!,
          bias: built.params.b_dec!,
        },
        forwardFeeds(x, params, sae.initialState()),
      );
      expect(out.directions!.shape).toEqual([10, 6]);
      const [acts, direction, bias, reconstruction] = [values(out.acts!), values(out.directions!), values(out.bias!), values(out.reconstruction!)];
      for (let row = 0; row < 5; row++) {
        for (let column = 0; column < 6; column++) {
          let sum = bias[column]!;
          for (let feature = 0; feature < 10; feature++) sum += acts[row * 10 + feature]! * direction[feature * 6 + column]!;
          expect(reconstruction[row * 6 + column]).toBeCloseTo(sum, 9);
        }
      }
      expect(acts.some((value) => value !== 0)).toBe(true);
    });
  }
});
