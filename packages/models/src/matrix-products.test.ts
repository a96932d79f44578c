import { ConfigError, createReferenceBackend, evaluateGraph, Graph, matmul, mul, type HostTensor } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { HookedTransformer } from './hooked-transformer.js';
import { initializeParameters } from './initialize-parameters.js';
import { TEST_CONFIGS, testTokens } from './test-configs.test-support.js';
import { toTokenTensor } from './token-batches.js';
import { buildTransformerGraph, weightMatrices } from './transformer-graph.js';
import type { TransformerConfig } from './transformer-config.js';

/** Logits of `config` on fixed tokens, with weights fed by name and the given options' products and weights. */
function logits(config: TransformerConfig, weights: Map<string, HostTensor>, build: (graph: Graph) => Parameters<typeof buildTransformerGraph>[3]): Float32Array {
  const graph = new Graph();
  const tokens = graph.input('tokens', [2, 5], 'int64');
  const result = buildTransformerGraph(graph, tokens, config, build(graph));
  const feeds: Record<string, HostTensor> = { tokens: toTokenTensor(testTokens(2, 5, config.vocabSize), config.vocabSize) };
  for (const name of graph.inputs.keys()) if (weights.has(name)) feeds[name] = weights.get(name)!;
  return evaluateGraph(graph, [result.logits!], feeds)[0].data as Float32Array;
}

/** Every weight the graph reads, rotary tables included (the model computes those). */
function allWeights(config: TransformerConfig): Map<string, HostTensor> {
  const model = new HookedTransformer(config, initializeParameters(config, 4), { backend: createReferenceBackend() });
  return new Map(model.parameterNames.map((name) => [name, model.parameter(name)]));
}

describe("replacing a weight matrix's product inside the model", () => {
  it.each(Object.entries(TEST_CONFIGS))("%s: a product that doubles W gives the model whose W is doubled, and sees the module's input", (_name, config) => {
    const weights = allWeights(config);
    const name = config.gatedMlp ? 'blocks.1.mlp.W_gate' : 'blocks.1.mlp.W_in';
    const seen: number[][] = [];
    const replaced = logits(config, weights, () => ({
      products: {
        [name]: (x, weight) => {
          seen.push(x.shape.map(Number));
          return matmul(x, mul(weight, 2));
        },
      },
    }));
    const doubled = new Map(weights);
    const original = weights.get(name)!.data as Float32Array;
    doubled.set(name, { dtype: 'float32', shape: weights.get(name)!.shape, data: original.map((value) => value * 2) });
    const expected = logits(config, doubled, () => ({}));
    const unchanged = logits(config, weights, () => ({}));
    expect(seen).toEqual([[2, 5, config.hiddenSize]]);
    expect(Array.from(replaced)).toEqual(Array.from(expected));
    expect(Array.from(replaced)).not.toEqual(Array.from(unchanged));
  });

  it('takes given tensors for weights instead of graph inputs', () => {
    const config = TEST_CONFIGS.gpt2;
    const weights = allWeights(config);
    const renamed = new Map(weights);
    renamed.set('frozen.W_E', weights.get('embed.W_E')!);
    renamed.delete('embed.W_E');
    const given = logits(config, renamed, (graph) => ({ weights: { 'embed.W_E': graph.input('frozen.W_E', weights.get('embed.W_E')!.shape) } }));
    expect(Array.from(given)).toEqual(Array.from(logits(config, weights, () => ({}))));
  });

  it('lists the matrices it can replace, and refuses other names', () => {
    const matrices = weightMatrices(TEST_CONFIGS.llama);
    expect(matrices.get('blocks.0.mlp.W_gate')).toEqual({ dIn: 16, dOut: 32 });
    expect(matrices.get('blocks.1.attn.W_K')).toEqual({ dIn: 16, dOut: 8 });
    expect(matrices.has('embed.W_E')).toBe(false);
    const graph = new Graph();
    expect(() => buildTransformerGraph(graph, graph.input('tokens', [1, 2], 'int64'), TEST_CONFIGS.gpt2, { products: { 'blocks.0.mlp.W_up': (x, w) => matmul(x, w) } })).toThrow(ConfigError);
  });
});
