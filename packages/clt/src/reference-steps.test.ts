import { createOnnxBackend } from '@nnd/backend-onnx';
import { afterAll, describe, expect, it } from 'vitest';
import { createClt } from './cross-layer-transcoder.js';
import { fromReferenceTensors } from './reference-layout.js';
import { loadCase, relativeError, trainSteps, withPrefix } from './test-support.js';

const backend = createOnnxBackend();
afterAll(() => backend.dispose());

const TOLERANCE = 1e-4;
const LOSS_NAMES = ['loss', 'l2_loss', 'l1_loss', 'aux_loss', 'sparsity_loss', 'l0_norm', 'l1_norm'];
const COUNT_NAMES = ['num_dead_features', 'n_dead_in_batch'];

/**
 * Four Adam steps of each case, from the PyTorch oracle's initial parameters
 * on its batches (bench/pytorch/clt_step.py; fixtures/reference-steps/README.md),
 * through the real trainer on onnxruntime: parameters after every step and
 * every logged metric match to 1e-4 of each tensor's scale.
 */
describe('four training steps match the PyTorch reference', () => {
  it.each(['vanilla', 'topk', 'batchtopk', 'jumprelu', 'topk_n1'])('%s', async (name) => {
    const { json, tensors } = loadCase(name);
    const reference = json.config;
    const clt = createClt({
      encoder_type: reference.encoder_type,
      layers: reference.layers,
      dict_size: reference.dict_size,
      input_size: reference.input_size,
      output_size: reference.output_size,
      seed: reference.seed,
      top_k: reference.top_k,
      top_k_aux: reference.top_k_aux,
      aux_penalty: reference.aux_penalty,
      l1_coeff: reference.l1_coeff,
      bandwidth: reference.bandwidth,
      n_batches_to_dead: reference.n_batches_to_dead,
      hook_template_in: 'in.{layer}',
      hook_template_out: 'out.{layer}',
    });
    const n = reference.layers.length;
    const initial = fromReferenceTensors(clt.config, { ...withPrefix(tensors, 'initial'), ...withPrefix(tensors, 'initial_state') });
    const batches = json.steps.map((_, step) =>
      Object.fromEntries(
        reference.layers.flatMap((layer: number, i: number) => [
          [`in.${layer}`, tensors[`batch${step}.input.${i}`].data as Float32Array],
          [`out.${layer}`, tensors[`batch${step}.target.${i}`].data as Float32Array],
        ]),
      ),
    );
    const { metrics: logged, snapshots } = await trainSteps(
      clt,
      initial,
      batches,
      {
        batch_size: reference.batch_size,
        lr: reference.lr,
        beta1: reference.beta1,
        beta2: reference.beta2,
        max_grad_norm: reference.max_grad_norm,
      },
      backend,
    );

    expect(logged).toHaveLength(json.steps.length);
    for (const [s, expected] of json.steps.entries()) {
      const metrics = logged[s];
      for (const metric of LOSS_NAMES) {
        if (expected[metric] === undefined) continue;
        expect(Math.abs(metrics[metric] - expected[metric]), `step ${s + 1} ${metric}: ${metrics[metric]} vs ${expected[metric]}`).toBeLessThanOrEqual(
          TOLERANCE * Math.max(Math.abs(expected[metric]), 1e-3),
        );
      }
      for (const metric of COUNT_NAMES) expect(metrics[metric], `step ${s + 1} ${metric}`).toBe(expected[metric]);
      for (const [j, layer] of reference.layers.entries()) {
        expect(Math.abs(metrics[`l2_loss/layer_${layer}`] - expected.per_layer_l2[j]), `step ${s + 1} l2 of layer ${layer}`).toBeLessThanOrEqual(TOLERANCE * expected.per_layer_l2[j]);
      }
    }
    for (let step = 1; step <= json.steps.length; step++) {
      const snapshot = snapshots[step - 1];
      expect(snapshot, `parameters after step ${step}`).toBeDefined();
      const expected = fromReferenceTensors(clt.config, withPrefix(tensors, `step${step}`));
      for (const parameter of clt.parameterNames) {
        expect(relativeError(snapshot!.params[parameter], expected.params[parameter]), `step ${step} ${parameter}`).toBeLessThan(TOLERANCE);
      }
      for (let i = 0; i < n; i++) {
        expect(Array.from(snapshot!.state[`num_batches_not_active_${i}`].data as Float32Array), `step ${step} counters of layer ${i}`).toEqual(
          Array.from(expected.state[`num_batches_not_active_${i}`].data as Float32Array),
        );
      }
    }
  });
});
