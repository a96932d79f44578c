import { Rng } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { createTranscoder } from './transcoder-registry.js';
import { buildTranscoderForward, evaluate, transcoderFeeds } from './test-support.js';

describe('decoderDirections', () => {
  for (const architecture of ['vanilla_transcoder', 'topk_transcoder', 'batchtopk_transcoder', 'jumprelu_transcoder'] as const) {
    it(`${architecture}: the output is b_dec plus each feature's activation times its direction at the written hook`, () => {
      const transcoder = createTranscoder({
        architecture,
        input_size: 5,
        output_size: 4,
        dict_size: 12,
        hook_point: 'blocks.1.ln2.hook_normalized',
        hook_point_out: 'blocks.1.hook_mlp_out',
        ...(architecture === 'topk_transcoder' || architecture === 'batchtopk_transcoder' ? { top_k: 3 } : {}),
      });
      const built = buildTranscoderForward(transcoder, 6);
      const directions = transcoder.decoderDirections!(built.graph, built.params);
      expect(Object.keys(directions)).toEqual(['blocks.1.hook_mlp_out']);
      const rng = new Rng(3);
      // Large inputs, so that JumpReLU's initial thresholds let features through.
      const x = Array.from(rng.normal(6 * 5, 0, 4));
      const y = Array.from(rng.normal(6 * 4, 0, 1));
      const out = evaluate(
        built.graph,
        {
          acts: built.output.featureActs,
          output: built.output.outputs['blocks.1.hook_mlp_out']!,
          direction: directions['blocks.1.hook_mlp_out']!,
          bias: built.params.b_dec!,
        },
        transcoderFeeds(x, y, transcoder, transcoder.initialParams(new Rng(1))),
      );
      expect(out.acts.some((value) => value !== 0)).toBe(true);
      for (let row = 0; row < 6; row++) {
        for (let column = 0; column < 4; column++) {
          let sum = out.bias[column];
          for (let feature = 0; feature < 12; feature++) sum += out.acts[row * 12 + feature] * out.direction[feature * 4 + column];
          expect(out.output[row * 4 + column]).toBeCloseTo(sum, 9);
        }
      }
    });
  }
});
