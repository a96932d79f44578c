import { evaluateGraph, Graph, hostTensor, Rng, type HostTensor } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { createTranscoder } from './transcoder-registry.js';

/** featureActs and the output of inferOutputs on `rows` random inputs, in the reference interpreter. */
function inferred(architecture: string, params: Record<string, HostTensor>, topK: number | undefined, rows = 5) {
  const transcoder = createTranscoder({ architecture, input_size: 4, output_size: 3, dict_size: 16, skip: true, ...(architecture.includes('topk') ? { top_k: 3 } : {}) });
  const graph = new Graph();
  const x = graph.input('x', [rows, 4], 'float32');
  const paramInputs = Object.fromEntries(Object.entries(params).map(([name, tensor]) => [name, graph.input(name, tensor.shape, 'float32')]));
  const stateValues = { ...transcoder.initialState(), threshold: hostTensor('float32', [], [0.1]) };
  const stateInputs = Object.fromEntries(Object.entries(stateValues).map(([name, tensor]) => [name, graph.input(`state.${name}`, tensor.shape, tensor.dtype)]));
  const result = transcoder.inferOutputs(graph, { input: x }, paramInputs, stateInputs, topK === undefined ? undefined : { topK });
  const feeds = {
    x: hostTensor('float32', [rows, 4], new Rng(3).normal(rows * 4, 0, 1)),
    ...params,
    ...Object.fromEntries(Object.entries(stateValues).map(([name, tensor]) => [`state.${name}`, tensor])),
  };
  const [acts, output] = evaluateGraph(graph, [result.featureActs, result.outputs.target], feeds);
  return { acts: acts.data as Float32Array, output: output.data as Float32Array, transcoder };
}

function activePerRow(acts: Float32Array, width: number): number[] {
  return Array.from({ length: acts.length / width }, (_, row) => acts.slice(row * width, (row + 1) * width).filter((value) => value > 0).length);
}

describe('what comparisons ask of a transcoder', () => {
  it('keeps the k largest dense activations per sample with inferOutputs({ topK }), whatever its own selection', () => {
    for (const architecture of ['topk_transcoder', 'batchtopk_transcoder', 'vanilla_transcoder', 'jumprelu_transcoder']) {
      const transcoder = createTranscoder({ architecture, input_size: 4, output_size: 3, dict_size: 16, skip: true, ...(architecture.includes('topk') ? { top_k: 3 } : {}) });
      const params = transcoder.initialParams(new Rng(1));
      params.b_enc = hostTensor('float32', [16], new Float32Array(16).fill(0.5));
      const dense = inferred('vanilla_transcoder', params, undefined).acts;
      for (const k of [1, 2, 6]) {
        const { acts } = inferred(architecture, params, k);
        expect(activePerRow(acts, 16)).toEqual(activePerRow(dense, 16).map((count) => Math.min(count, k)));
        // The kept values are the largest of the dense ones.
        for (let row = 0; row < 5; row++) {
          const expected = [...dense.slice(row * 16, row * 16 + 16)]
            .sort((a, b) => b - a)
            .slice(0, k)
            .filter((value) => value > 0);
          const kept = [...acts.slice(row * 16, row * 16 + 16)].filter((value) => value > 0).sort((a, b) => b - a);
          expect(kept).toEqual(expected);
        }
      }
    }
  });

  it('declares one feature group (d_in + d_out parameters per active feature), which of its types couple samples, and zeroes b_enc for TopK and BatchTopK only', () => {
    const topk = createTranscoder({ architecture: 'topk_transcoder', input_size: 4, output_size: 3, dict_size: 16, top_k: 3, hook_point_out: 'blocks.1.hook_mlp_out' });
    expect(topk.featureGroups!()).toEqual([{ label: 'blocks.1.hook_mlp_out', size: 16, streamsWritten: 1, activeParameters: 7 }]);
    expect(topk.forwardCouplesSamples).toBe(false);
    expect(topk.inferenceOptions).toEqual(['topK']);
    const params = topk.initialParams(new Rng(1));
    params.b_enc = hostTensor('float32', [16], new Float32Array(16).fill(0.5));
    const stripped = topk.withoutEncoderBias!(params);
    expect([...stripped.b_enc.data].every((value) => value === 0)).toBe(true);
    expect(stripped.W_enc).toBe(params.W_enc);
    expect(createTranscoder({ architecture: 'batchtopk_transcoder', input_size: 4, output_size: 3, dict_size: 16, top_k: 3 }).forwardCouplesSamples).toBe(true);
    expect(createTranscoder({ architecture: 'jumprelu_transcoder', input_size: 4, output_size: 3, dict_size: 16 }).withoutEncoderBias).toBeUndefined();
  });
});
