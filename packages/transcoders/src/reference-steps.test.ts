import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createOnnxBackend } from '@nnd/backend-onnx';
import type { HostTensor } from '@nnd/core';
import { trainDecomposition } from '@nnd/train';
import { afterAll, describe, expect, it } from 'vitest';
import { readTensorFile, relativeError } from './test-support.js';
import { createTranscoder } from './transcoder-registry.js';

/**
 * Four Adam steps of each transcoder against a PyTorch oracle that follows
 * the reference (fixtures/reference-steps/README.md says what each case
 * exercises and how the fixtures were made): start from the stored initial
 * parameters, train on the stored batches through trainDecomposition, and
 * compare the logged metrics and the parameters and counters after every step.
 */

const FIXTURES = fileURLToPath(new URL('../fixtures/reference-steps/', import.meta.url));
const CASES = ['vanilla', 'topk', 'batchtopk', 'jumprelu', 'topk_skip', 'jumprelu_skip', 'topk_unit_norm', 'topk_square'];
const STEPS = 4;
const TOLERANCE = 1e-4;

const TRANSCODER_KEYS = ['encoder_type', 'input_size', 'output_size', 'dict_size', 'l1_coeff', 'n_batches_to_dead', 'input_unit_norm', 'pre_enc_bias', 'seed', 'skip'];
const EXTRA_KEYS: Record<string, string[]> = {
  topk: ['top_k', 'top_k_aux', 'aux_penalty'],
  batchtopk: ['top_k', 'top_k_aux', 'aux_penalty'],
  jumprelu: ['bandwidth'],
  vanilla: [],
};

interface Fixture {
  config: Record<string, unknown> & { encoder_type: string; batch_size: number };
  parameters: string[];
  adam_eps: number;
  steps: Record<string, number | boolean | object>[];
}

const backend = createOnnxBackend();
afterAll(() => backend.dispose());

describe('transcoder training steps against the PyTorch reference', () => {
  for (const name of CASES) {
    it(`${name}: metrics and parameters after each of ${STEPS} Adam steps match to ${TOLERANCE}`, async () => {
      const fixture = JSON.parse(readFileSync(`${FIXTURES}${name}.json`, 'utf8')) as Fixture;
      const tensors = readTensorFile(`${FIXTURES}${name}.safetensors`);
      const { config } = fixture;
      expect(fixture.adam_eps).toBe(1e-8);
      const keys = [...TRANSCODER_KEYS, ...EXTRA_KEYS[config.encoder_type]];
      const transcoder = createTranscoder(Object.fromEntries(keys.map((key) => [key, config[key]])));
      expect(transcoder.parameterNames).toEqual(fixture.parameters);

      const tensor = (key: string): HostTensor => {
        const found = tensors.get(key);
        if (found === undefined) throw new Error(`fixture ${name} has no '${key}'`);
        return found;
      };
      const initial = Object.fromEntries(fixture.parameters.map((param) => [param, tensor(`initial.${param}`)]));
      let batchIndex = 0;
      const source = {
        async nextBatch() {
          const index = batchIndex++;
          return { input: tensor(`batch${index}.input`).data as Float32Array, target: tensor(`batch${index}.target`).data as Float32Array };
        },
      };
      const logged: Record<string, number>[] = [];
      const after: { params: Record<string, HostTensor>; state: Record<string, HostTensor> }[] = [];
      const result = await trainDecomposition(
        transcoder,
        source,
        {
          num_tokens: STEPS * config.batch_size,
          batch_size: config.batch_size,
          lr: config.lr as number,
          beta1: config.beta1 as number,
          beta2: config.beta2 as number,
          max_grad_norm: config.max_grad_norm as number,
          seed: config.seed as number,
          log_freq: 1,
          perf_log_freq: 1,
        },
        {
          backend,
          handleSignals: false,
          initialTensors: [{ params: initial, state: { ...transcoder.initialState(), num_batches_not_active: tensor('initial_state.num_batches_not_active') } }],
          logger: {
            log: (metrics) => {
              logged.push({ ...metrics });
            },
          },
          // Called before steps 1..3 with the parameters after the steps before; step 0's are the initial ones.
          onEvaluate: (step, [member]) => {
            if (step > 0) after.push({ params: member.params, state: member.state });
          },
        },
      );
      after.push({ params: result.params, state: result.state });
      expect(batchIndex).toBe(STEPS);
      expect(logged).toHaveLength(STEPS);

      const failures: string[] = [];
      for (let step = 1; step <= STEPS; step++) {
        const expected = fixture.steps[step - 1];
        for (const [metric, value] of Object.entries(expected)) {
          if (typeof value !== 'number' || ['step', 'grad_norm', 'redraws'].includes(metric)) continue;
          const actual = logged[step - 1][metric];
          const error = Math.abs(actual - value) / Math.max(Math.abs(value), 1e-3);
          if (!(error <= TOLERANCE)) failures.push(`step ${step} ${metric}: ${actual} vs ${value}`);
        }
        for (const param of fixture.parameters) {
          const error = relativeError(after[step - 1].params[param], tensor(`step${step}.${param}`));
          if (!(error <= TOLERANCE)) failures.push(`step ${step} ${param}: relative error ${error}`);
        }
        const counters = after[step - 1].state.num_batches_not_active.data as Float32Array;
        expect(Array.from(counters)).toEqual(Array.from(tensor(`step${step}.num_batches_not_active`).data as Float32Array));
      }
      expect(failures).toEqual([]);
    });
  }
});
