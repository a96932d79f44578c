import { describe, expect, it } from 'vitest';
import { combineDecompositions, combinedTensors } from './combined-decomposition.js';
import { DECOMPOSITION_SPECIFICATION_VERSION, type Decomposition } from './decomposition.js';
import { hostTensor } from './dtype.js';
import { Graph } from './graph.js';
import { add, mul } from './primitives.js';
import { evaluateGraph } from './reference/evaluate.js';

/** out = x * scale + 1; featureActs = x; one feature group of the width. */
function scaler(read: string, write: string, width: number): Decomposition {
  return {
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    architecture: 'scaler',
    config: { read, write },
    reads: [{ hook: read, width }],
    writes: [{ hook: write, width }],
    initialParams: () => ({ scale: hostTensor('float32', [width], new Float32Array(width).fill(2)) }),
    initialState: () => ({}),
    forward: (_graph, batch, params) => ({
      outputs: { [write]: add(mul(batch.inputs[read], params.scale), 1) },
      featureActs: batch.inputs[read],
      losses: { l2_loss: batch.inputs[read] },
      metrics: {},
      nextState: {},
    }),
    inferOutputs: (_graph, inputs, params, _state, options) => ({
      outputs: { [write]: add(mul(inputs[read], params.scale), options?.topK ?? 1) },
      featureActs: inputs[read],
    }),
    inferenceOptions: ['topK'],
    featureGroups: () => [{ label: write, size: width, streamsWritten: 1, activeParameters: 2 * width }],
    withoutEncoderBias: (params) => ({ ...params, scale: hostTensor('float32', [width], new Float32Array(width)) }),
  };
}

describe('combineDecompositions', () => {
  it("reads and writes every part's streams; each part computes its outputs from its own inputs and parameters", () => {
    const combined = combineDecompositions([scaler('in0', 'out0', 2), scaler('in1', 'out1', 3)]);
    expect(combined.reads).toEqual([
      { hook: 'in0', width: 2 },
      { hook: 'in1', width: 3 },
    ]);
    expect(combined.writes).toEqual([
      { hook: 'out0', width: 2 },
      { hook: 'out1', width: 3 },
    ]);
    const params = combinedTensors([{ scale: hostTensor('float32', [2], [2, 3]) }, { scale: hostTensor('float32', [3], [10, 20, 30]) }]);
    expect(Object.keys(params)).toEqual(['0/scale', '1/scale']);
    expect(Object.keys(combined.initialParams(undefined as never))).toEqual(['0/scale', '1/scale']);

    const graph = new Graph();
    const in0 = graph.input('in0', [1, 2], 'float32');
    const in1 = graph.input('in1', [1, 3], 'float32');
    const paramInputs = { '0/scale': graph.input('p0', [2], 'float32'), '1/scale': graph.input('p1', [3], 'float32') };
    const result = combined.forward(graph, { inputs: { in0, in1 }, targets: {} }, paramInputs, {});
    const inferred = combined.inferOutputs!(graph, { in0, in1 }, paramInputs, {}, { topK: 5 });
    const feeds = { in0: hostTensor('float32', [1, 2], [1, 2]), in1: hostTensor('float32', [1, 3], [1, 1, 1]), p0: params['0/scale'], p1: params['1/scale'] };
    const [out0, out1, acts, inferredOut1] = evaluateGraph(graph, [result.outputs.out0, result.outputs.out1, result.featureActs, inferred.outputs.out1], feeds);
    expect([...out0.data]).toEqual([3, 7]);
    expect([...out1.data]).toEqual([11, 21, 31]);
    expect(acts.shape).toEqual([1, 5]);
    expect([...inferredOut1.data]).toEqual([15, 25, 35]);
    expect(Object.keys(result.losses)).toEqual(['0/l2_loss', '1/l2_loss']);
    expect(combined.featureGroups!().map(({ label, size }) => [label, size])).toEqual([
      ['out0', 2],
      ['out1', 3],
    ]);
    expect(combined.inferenceOptions).toEqual(['topK']);
    expect([...combined.withoutEncoderBias!(params)['1/scale'].data]).toEqual([0, 0, 0]);
  });

  it("prepares each part's drawn parameters with the part's own prepareInitialParams, and has none when no part does", () => {
    const doubling: Decomposition = {
      ...scaler('in1', 'out1', 2),
      prepareInitialParams: (drawn) => ({
        scale: hostTensor(
          'float32',
          [2],
          Array.from(drawn.scale.data as Float32Array, (value) => 2 * value),
        ),
      }),
    };
    const combined = combineDecompositions([scaler('in0', 'out0', 2), doubling]);
    const drawn = combined.initialParams(undefined as never);
    const prepared = combined.prepareInitialParams!(drawn);
    expect(Object.keys(prepared)).toEqual(['0/scale', '1/scale']);
    expect([...prepared['0/scale'].data]).toEqual([2, 2]);
    expect([...prepared['1/scale'].data]).toEqual([4, 4]);
    expect([...drawn['1/scale'].data]).toEqual([2, 2]);
    expect(combineDecompositions([scaler('in0', 'out0', 2), scaler('in1', 'out1', 2)]).prepareInitialParams).toBeUndefined();
  });

  it('refuses two parts that write the same stream, and offers inference only when every part does', () => {
    expect(() => combineDecompositions([scaler('a', 'out', 2), scaler('b', 'out', 2)])).toThrow(/two parts write 'out'/);
    const { inferOutputs: _dropped, inferenceOptions: _options, ...withoutInference } = scaler('in1', 'out1', 2);
    const combined = combineDecompositions([scaler('in0', 'out0', 2), withoutInference]);
    expect(combined.inferOutputs).toBeUndefined();
    expect(combined.inferenceOptions).toEqual([]);
  });
});
