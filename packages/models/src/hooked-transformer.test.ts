import { createOnnxBackend } from '@nnd/backend-onnx';
import { ConfigError, Graph, HookNotFoundError, ShapeError, evaluateGraph, expand, isDeviceTensor, reduceMean, zeros, type HostTensor } from '@nnd/core';
import { afterAll, describe, expect, it } from 'vitest';
import { hookName, hookShape } from './hook-points.js';
import { HookedTransformer } from './hooked-transformer.js';
import { initializeParameters } from './initialize-parameters.js';
import { TEST_CONFIGS, testTokens } from './test-configs.test-support.js';

const backend = createOnnxBackend({ device: 'cpu' });
afterAll(() => backend.dispose());

function maxDifference(a: HostTensor, b: HostTensor): number {
  expect(a.shape).toEqual(b.shape);
  let max = 0;
  for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs(Number(a.data[i]) - Number(b.data[i])));
  return max;
}

function model(kind: keyof typeof TEST_CONFIGS, modelBatchSize = 8) {
  const config = TEST_CONFIGS[kind];
  return new HookedTransformer(config, initializeParameters(config, 1), { backend, modelBatchSize });
}

const tokens = testTokens(3, 10, 40);

describe('HookedTransformer hooks', () => {
  for (const kind of ['gpt2', 'gpt_neox', 'llama'] as const) {
    it(`${kind}: every hook has its documented shape, and patterns are causal distributions`, async () => {
      const transformer = model(kind);
      const { cache, logits } = await transformer.runWithCache(tokens);
      expect(Object.keys(cache)).toEqual(transformer.hookNames);
      for (const name of transformer.hookNames) {
        expect(cache[name].shape, name).toEqual(hookShape(name, transformer.config, 3, 10));
      }
      expect(logits!.shape).toEqual([3, 10, 40]);
      const pattern = cache[hookName('pattern', 1)].data as Float32Array;
      for (let row = 0; row < 3 * 4 * 10; row++) {
        const query = row % 10;
        const values = pattern.subarray(row * 10, row * 10 + 10);
        expect(values.reduce((sum, value) => sum + value, 0)).toBeCloseTo(1, 5);
        for (let key = query + 1; key < 10; key++) expect(values[key]).toBe(0);
      }
      await transformer.dispose();
    });
  }

  it('stopAtLayer builds only the blocks a hook needs, with the same values', async () => {
    const transformer = model('gpt2');
    const graph = new Graph();
    const input = graph.input('tokens', ['batch', 'seq'], 'int64');
    const target = hookName('resid_pre', 1);
    const partial = transformer.buildGraph(graph, input, { outputs: [target], returnType: 'none' });
    expect([...partial.parameters.keys()].some((name) => name.startsWith('blocks.1.'))).toBe(false);
    expect(partial.parameters.has('blocks.0.mlp.W_out')).toBe(true);
    expect(partial.logits).toBeUndefined();
    const full = await transformer.runWithCache(tokens, { names: [target] });
    const stopped = await transformer.runWithCache(tokens, { names: [target], stopAtLayer: 1 });
    expect(stopped.logits).toBeUndefined();
    expect(maxDifference(stopped.cache[target], full.cache[target])).toBe(0);
    await expect(transformer.runWithCache(tokens, { names: [hookName('resid_post', 1)], stopAtLayer: 1 })).rejects.toThrow(ConfigError);
    await transformer.dispose();
  });

  it("replace 'input' with the cached value reproduces the logits; a zeroed hook_z leaves only b_O", async () => {
    const transformer = model('gpt2');
    const clean = await transformer.runWithCache(tokens, { names: [hookName('resid_post', 0)] });
    const patched = await transformer.runWithHooks(tokens, {
      replace: { [hookName('resid_post', 0)]: 'input' },
      inputs: { [hookName('resid_post', 0)]: clean.cache[hookName('resid_post', 0)] },
    });
    expect(maxDifference(patched.logits!, clean.logits!)).toBeLessThan(1e-6);
    await expect(transformer.runWithHooks(tokens, { replace: { [hookName('resid_post', 0)]: 'input' } })).rejects.toThrow(/options\.inputs/);

    const ablated = await transformer.runWithHooks(tokens, {
      replace: { [hookName('z', 0)]: (graph, value) => zeros(graph, value.shape, value.dtype) },
      names: [hookName('attn_out', 0)],
    });
    const attentionOut = ablated.cache[hookName('attn_out', 0)].data as Float32Array;
    const bias = transformer.parameter('blocks.0.attn.b_O').data as Float32Array;
    for (let i = 0; i < attentionOut.length; i++) expect(attentionOut[i]).toBeCloseTo(bias[i % 16], 6);
    expect(maxDifference(ablated.logits!, clean.logits!)).toBeGreaterThan(1e-4);
    await transformer.dispose();
  });

  it('mean ablation by a function; programs are cached per option set', async () => {
    const transformer = model('llama');
    const meanAblate = (graph: Graph, value: Parameters<typeof reduceMean>[0]) => expand(reduceMean(value, [0, 1], true), value.shape);
    const options = { replace: { [hookName('mlp_out', 0)]: meanAblate }, names: [hookName('mlp_out', 0)] };
    const first = await transformer.compile({ outputs: options.names, replace: options.replace });
    const second = await transformer.compile({ outputs: options.names, replace: options.replace });
    expect(second).toBe(first);
    const other = await transformer.compile({ outputs: options.names, replace: { [hookName('mlp_out', 0)]: (graph, value) => meanAblate(graph, value) } });
    expect(other).not.toBe(first);
    const { cache } = await transformer.runWithHooks(tokens, options);
    const values = cache[hookName('mlp_out', 0)].data as Float32Array;
    // Every position now holds the same mean vector.
    for (let i = 16; i < values.length; i++) expect(values[i]).toBeCloseTo(values[i % 16], 5);
    await transformer.dispose();
  });

  it('rejects unknown hooks with suggestions, and replacements of the wrong shape', async () => {
    const transformer = model('gpt_neox');
    await expect(transformer.runWithCache(tokens, { names: ['blocks.0.hook_resid_mid'] })).rejects.toThrow(HookNotFoundError);
    await expect(transformer.runWithCache(tokens, { names: ['blocks.0.attn.hook_patern'] })).rejects.toThrow(/blocks\.0\.attn\.hook_pattern/);
    await expect(transformer.runWithHooks(tokens, { replace: { [hookName('resid_pre', 1)]: (graph) => zeros(graph, [2, 16], 'float32') } })).rejects.toThrow(ShapeError);
    await transformer.dispose();
  });

  it('batches by modelBatchSize without changing results; the loss is the row-weighted mean', async () => {
    const batched = model('gpt_neox', 2);
    const whole = model('gpt_neox', 8);
    const [a, b] = await Promise.all([batched.run(tokens, { returnType: 'both' }), whole.run(tokens, { returnType: 'both' })]);
    expect(maxDifference(a.logits!, b.logits!)).toBeLessThan(1e-6);
    expect(a.loss!).toBeCloseTo(b.loss!, 5);
    expect(await whole.loss(tokens)).toBeCloseTo(b.loss!, 6);
    expect(b.loss!).toBeCloseTo(Math.log(40), 0);
    await Promise.all([batched.dispose(), whole.dispose()]);
  });

  it('two passes share one graph and its weights; the reference interpreter agrees with onnxruntime', async () => {
    const transformer = model('llama');
    const graph = new Graph();
    const input = graph.input('tokens', ['batch', 'seq'], 'int64');
    const clean = transformer.buildGraph(graph, input, { returnType: 'loss' });
    const ablated = transformer.buildGraph(graph, input, {
      returnType: 'loss',
      replace: { [hookName('attn_out', 1)]: (sameGraph, value) => zeros(sameGraph, value.shape, value.dtype) },
    });
    expect(ablated.parameters.get('embed.W_E')).toBe(clean.parameters.get('embed.W_E'));
    const feeds = { ...(await transformer.parameterFeeds([...graph.inputs.keys()])), tokens: { dtype: 'int64' as const, shape: [3, 10], data: BigInt64Array.from(tokens.flat(), BigInt) } };
    const program = await backend.compile(graph, { outputs: { clean: clean.loss!, ablated: ablated.loss! } });
    const results = await program.run(feeds);
    const [cleanLoss, ablatedLoss] = await Promise.all([results.clean.toHost(), results.ablated.toHost()]);
    expect(cleanLoss.data[0]).not.toBe(ablatedLoss.data[0]);
    const hostFeeds = Object.fromEntries(await Promise.all(Object.entries(feeds).map(async ([name, feed]) => [name, isDeviceTensor(feed) ? await feed.toHost() : feed])));
    const [reference] = evaluateGraph(graph, [clean.loss!], hostFeeds);
    expect(Number(reference.data[0])).toBeCloseTo(Number(cleanLoss.data[0]), 4);
    await program.dispose();
    await transformer.dispose();
  });
});
