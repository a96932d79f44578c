import { createReferenceBackend, type HostTensor } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { hookName } from './hook-points.js';
import { HookedTransformer } from './hooked-transformer.js';
import { initializeParameters } from './initialize-parameters.js';
import { TEST_CONFIGS, testTokens } from './test-configs.test-support.js';
import type { TransformerConfig } from './transformer-config.js';

/**
 * A transcoder reads `blocks.{L}.ln2.hook_normalized` and writes
 * `blocks.{L}.hook_mlp_out`: that pair must be exactly the MLP's input and
 * output in every architecture, so the MLP computed by hand (float64, the
 * model's own weights) from the input hook's values must give the output
 * hook's values.
 */
const ACTIVATIONS: Partial<Record<TransformerConfig['activation'], (x: number) => number>> = {
  gelu_new: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  silu: (x) => x / (1 + Math.exp(-x)),
};

/** Abramowitz-Stegun 7.1.26 is too coarse here; a series/continued form accurate to ~1e-12 for |x| < 6. */
function erf(x: number): number {
  const sign = Math.sign(x);
  const a = Math.abs(x);
  if (a > 6) return sign;
  let sum = a;
  let term = a;
  for (let n = 1; n < 200; n++) {
    term *= (-a * a) / n;
    const next = term / (2 * n + 1);
    sum += next;
    if (Math.abs(next) < 1e-17) break;
  }
  return (sign * 2 * sum) / Math.sqrt(Math.PI);
}

function matrixTimes(rows: number, inner: number, columns: number, x: ArrayLike<number>, weight: ArrayLike<number>): Float64Array {
  const out = new Float64Array(rows * columns);
  for (let row = 0; row < rows; row++) {
    for (let k = 0; k < inner; k++) {
      const value = x[row * inner + k];
      for (let column = 0; column < columns; column++) out[row * columns + column] += value * weight[k * columns + column];
    }
  }
  return out;
}

const variants: [string, TransformerConfig][] = [
  ['gpt2', TEST_CONFIGS.gpt2],
  ['gpt_neox (parallel residual)', TEST_CONFIGS.gpt_neox],
  ['gpt_neox (sequential residual)', { ...TEST_CONFIGS.gpt_neox, parallelResidual: false }],
  ['llama (gated MLP)', TEST_CONFIGS.llama],
];

describe('the default transcoder hooks are the MLP input and output', () => {
  it.each(variants)('%s: MLP(blocks.L.ln2.hook_normalized) = blocks.L.hook_mlp_out', async (_name, config) => {
    const model = new HookedTransformer(config, initializeParameters(config, 3), { backend: createReferenceBackend() });
    const layer = 1;
    const input = hookName('ln2', layer);
    const output = hookName('mlp_out', layer);
    const { cache } = await model.runWithCache(testTokens(2, 5, config.vocabSize), { names: [input, output], returnType: 'none' });
    const x = cache[input].data as Float32Array;
    const rows = x.length / config.hiddenSize;
    const weight = (name: string) => model.parameter(`blocks.${layer}.mlp.${name}`) as HostTensor<'float32'>;
    const optional = (name: string) => (config.mlpBias ? weight(name).data : undefined);
    const activation = ACTIVATIONS[config.activation]!;
    const linear = matrixTimes(rows, config.hiddenSize, config.mlpSize, x, weight('W_in').data);
    const bias = optional('b_in');
    const hidden = new Float64Array(rows * config.mlpSize);
    const gate = config.gatedMlp ? matrixTimes(rows, config.hiddenSize, config.mlpSize, x, weight('W_gate').data) : undefined;
    for (let index = 0; index < hidden.length; index++) {
      const pre = linear[index] + (bias ? bias[index % config.mlpSize] : 0);
      hidden[index] = gate ? activation(gate[index]) * pre : activation(pre);
    }
    const expected = matrixTimes(rows, config.mlpSize, config.hiddenSize, hidden, weight('W_out').data);
    const outputBias = optional('b_out');
    const actual = cache[output].data as Float32Array;
    let worst = 0;
    let scale = 0;
    for (let index = 0; index < expected.length; index++) {
      const value = expected[index] + (outputBias ? outputBias[index % config.hiddenSize] : 0);
      worst = Math.max(worst, Math.abs(actual[index] - value));
      scale = Math.max(scale, Math.abs(value));
    }
    expect(scale).toBeGreaterThan(0);
    expect(worst / scale).toBeLessThan(1e-5);
  });
});
