import { createOnnxBackend } from '@nnd/backend-onnx';
import { checkDecomposition, describeDecomposition, Graph, Rng } from '@nnd/core';
import { trainDecomposition } from '@nnd/train';
import { afterAll, describe, expect, it } from 'vitest';
import { buildTranscoderForward, evaluate, transcoderFeeds } from './test-support.js';
import { createTranscoder } from './transcoder-registry.js';

const backend = createOnnxBackend();
afterAll(() => backend.dispose());

describe('a transcoder behind the Decomposition contract', () => {
  it("reads hook_point (input_size) and writes hook_point_out (output_size), or 'input' and 'target'", () => {
    const named = createTranscoder({
      architecture: 'topk_transcoder',
      input_size: 8,
      output_size: 6,
      dict_size: 16,
      top_k: 2,
      hook_point: 'blocks.0.ln2.hook_normalized',
      hook_point_out: 'blocks.0.hook_mlp_out',
    });
    expect(named.reads).toEqual([{ hook: 'blocks.0.ln2.hook_normalized', width: 8 }]);
    expect(named.writes).toEqual([{ hook: 'blocks.0.hook_mlp_out', width: 6 }]);
    checkDecomposition(named, 'test');
    const plain = createTranscoder({ architecture: 'vanilla_transcoder', input_size: 8, output_size: 6, dict_size: 16 });
    expect([plain.inputHook, plain.outputHook]).toEqual(['input', 'target']);
  });

  it('describes itself by architecture, top_k or l1_coeff, and skip when set', () => {
    const base = { input_size: 4, output_size: 3, dict_size: 8 };
    expect(describeDecomposition(createTranscoder({ ...base, architecture: 'topk_transcoder', top_k: 3 }))).toEqual([
      { key: 'architecture', value: 'topk_transcoder' },
      { key: 'top_k', value: 3 },
    ]);
    expect(describeDecomposition(createTranscoder({ ...base, architecture: 'batchtopk_transcoder', top_k: 2, skip: true }))).toEqual([
      { key: 'architecture', value: 'batchtopk_transcoder' },
      { key: 'top_k', value: 2 },
      { key: 'skip', value: true },
    ]);
    expect(describeDecomposition(createTranscoder({ ...base, architecture: 'jumprelu_transcoder', l1_coeff: 0.1 }))).toEqual([
      { key: 'architecture', value: 'jumprelu_transcoder' },
      { key: 'l1_coeff', value: 0.1 },
    ]);
    expect(describeDecomposition(createTranscoder({ ...base, encoder_type: 'vanilla', l1_coeff: 0.2, skip: true }))).toEqual([
      { key: 'architecture', value: 'vanilla_transcoder' },
      { key: 'l1_coeff', value: 0.2 },
      { key: 'skip', value: true },
    ]);
  });

  it('infers sample by sample the output its forward pass gives (TopK, Vanilla, JumpReLU), for any leading shape', () => {
    for (const architecture of ['topk_transcoder', 'vanilla_transcoder', 'jumprelu_transcoder']) {
      const transcoder = createTranscoder({ architecture, input_size: 4, output_size: 3, dict_size: 8, skip: true, ...(architecture === 'topk_transcoder' ? { top_k: 2 } : {}) });
      const rng = new Rng(2);
      const params = transcoder.initialParams(new Rng(1));
      const x = rng.normal(6 * 4, 0, 1);
      const built = buildTranscoderForward(transcoder, 6);
      const feeds = transcoderFeeds(x, rng.normal(6 * 3, 0, 1), transcoder, params);
      const forward = evaluate(built.graph, { output: built.output.outputs.target }, feeds).output;
      const graph = new Graph();
      const input = graph.input('x', [2, 3, 4], 'float64');
      const tensors = Object.fromEntries(Object.keys(params).map((name) => [name, graph.input(name, params[name].shape, 'float64')]));
      const inferred = transcoder.inferOutputs(graph, { input }, tensors, {});
      expect(inferred.outputs.target.shape).toEqual([2, 3, 3]);
      const inferFeeds = Object.fromEntries(Object.entries(feeds).filter(([name]) => name !== 'y' && !name.startsWith('state.')));
      const values = evaluate(graph, { output: inferred.outputs.target }, { ...inferFeeds, x: { ...feeds.x, shape: [2, 3, 4] } }).output;
      values.forEach((value, i) => expect(value).toBeCloseTo(forward[i], 10));
    }
  });

  it("refuses inference with input_unit_norm, which needs the target's statistics", () => {
    const transcoder = createTranscoder({ architecture: 'topk_transcoder', input_size: 4, output_size: 3, dict_size: 8, top_k: 2, input_unit_norm: true });
    const graph = new Graph();
    expect(() => transcoder.infer(graph, graph.input('x', [2, 4]), {}, {})).toThrow(/not defined with input_unit_norm.*reconstruction 'forward'/);
  });

  it('names the stream a batch lacks', () => {
    const transcoder = createTranscoder({ architecture: 'topk_transcoder', input_size: 4, output_size: 3, dict_size: 8, top_k: 2 });
    const graph = new Graph();
    const x = graph.input('x', [2, 4]);
    expect(() => transcoder.forward(graph, { inputs: { input: x }, targets: {} }, {}, {})).toThrow(/lacks target 'target'.*reads 'input' and writes 'target'/);
  });

  it('trains through trainDecomposition from its own seeded init, with batches keyed by its streams', async () => {
    const transcoder = createTranscoder({ architecture: 'batchtopk_transcoder', input_size: 4, output_size: 3, dict_size: 8, top_k: 2, skip: true });
    const rng = new Rng(8);
    const source = { nextBatch: async () => ({ input: rng.normal(16 * 4, 0, 1), target: rng.normal(16 * 3, 0, 1) }) };
    const result = await trainDecomposition(transcoder, source, { num_tokens: 16 * 3, batch_size: 16, lr: 1e-2 }, { backend, handleSignals: false });
    expect(result.step).toBe(3);
    expect(Object.keys(result.params)).toEqual(['b_dec', 'b_enc', 'W_enc', 'W_dec', 'W_skip']);
    expect(Array.from(result.params.W_skip.data as Float32Array).some((value) => value !== 0)).toBe(true);
    expect(result.state.threshold.data[0]).toBeGreaterThan(0);
    expect(Object.keys(result.metrics!)).toEqual(expect.arrayContaining(['loss', 'l2_loss', 'l1_loss', 'aux_loss', 'l0_norm', 'threshold']));
  });
});
