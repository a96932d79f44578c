import { createOnnxBackend } from '@nnd/backend-onnx';
import { hostTensor } from '@nnd/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createClt } from './cross-layer-transcoder.js';
import { loadCase, relativeError, trainSteps, TRANSCODER_FIXTURES, withPrefix } from './test-support.js';

const backend = createOnnxBackend();
afterAll(() => backend.dispose());

/**
 * With one layer the reference's CLT is its transcoder: started from a
 * transcoder case's initial parameters (fixtures/transcoder-steps, the
 * PyTorch oracle of the reference's transcoder) and fed its batches, a
 * one-layer CLT of the same type takes the transcoder's steps.
 */
describe('a one-layer CLT is a transcoder of the same type', () => {
  it.each(['vanilla', 'topk', 'batchtopk', 'jumprelu'])("%s: four steps equal the transcoder's", async (name) => {
    const { json, tensors } = loadCase(name, TRANSCODER_FIXTURES);
    const reference = json.config;
    const clt = createClt({
      encoder_type: reference.encoder_type,
      layers: [3],
      dict_size: reference.dict_size,
      input_size: reference.input_size,
      output_size: reference.output_size,
      top_k: reference.top_k,
      top_k_aux: reference.top_k_aux,
      aux_penalty: reference.aux_penalty,
      l1_coeff: reference.l1_coeff,
      bandwidth: reference.bandwidth,
      n_batches_to_dead: reference.n_batches_to_dead,
    });
    const [inHook, outHook] = [clt.reads[0].hook, clt.writes[0].hook];
    expect([inHook, outHook]).toEqual(['blocks.3.ln2.hook_normalized', 'blocks.3.hook_mlp_out']);
    const asClt = (transcoder: Record<string, any>) => {
      const params: Record<string, any> = {
        W_enc_0: transcoder.W_enc,
        b_enc_0: transcoder.b_enc,
        b_dec_0: transcoder.b_dec,
        W_dec_0: hostTensor('float32', [reference.dict_size, 1, reference.output_size], transcoder.W_dec.data),
      };
      if (transcoder.log_threshold) params.log_threshold_0 = transcoder.log_threshold;
      return params;
    };
    const batches = json.steps.map((_, step) => ({ [inHook]: tensors[`batch${step}.input`].data as Float32Array, [outHook]: tensors[`batch${step}.target`].data as Float32Array }));
    const { metrics, snapshots } = await trainSteps(
      clt,
      {
        params: asClt(withPrefix(tensors, 'initial')),
        state: { num_batches_not_active_0: tensors['initial_state.num_batches_not_active'] },
      },
      batches,
      { batch_size: reference.batch_size, lr: reference.lr, beta1: reference.beta1, beta2: reference.beta2, max_grad_norm: reference.max_grad_norm },
      backend,
    );

    for (const [s, expected] of json.steps.entries()) {
      for (const key of ['loss', 'l2_loss', 'l0_norm', 'l1_norm']) {
        expect(Math.abs(metrics[s][key] - expected[key]), `step ${s + 1} ${key}`).toBeLessThanOrEqual(1e-4 * Math.abs(expected[key]));
      }
      expect(metrics[s].num_dead_features, `step ${s + 1} num_dead_features`).toBe(expected.num_dead_features);
      const after = asClt(withPrefix(tensors, `step${s + 1}`));
      for (const parameter of clt.parameterNames) {
        expect(relativeError(snapshots[s].params[parameter], after[parameter]), `step ${s + 1} ${parameter}`).toBeLessThan(1e-4);
      }
      expect(Array.from(snapshots[s].state.num_batches_not_active_0.data as Float32Array)).toEqual(Array.from(tensors[`step${s + 1}.num_batches_not_active`].data as Float32Array));
    }
  });
});
