import { createOnnxBackend } from '@nnd/backend-onnx';
import {
  Graph,
  Rng,
  abs,
  add,
  concat,
  crossEntropy,
  div,
  erf,
  exp,
  expand,
  gather,
  gatherElements,
  geluTanh,
  grad,
  hostTensor,
  layerNorm,
  log,
  logSoftmax,
  matmul,
  maximum,
  minimum,
  mul,
  pow,
  reduceMax,
  reduceMean,
  reduceSum,
  reduceSumSquare,
  relu,
  reshape,
  rmsNorm,
  scatterElements,
  scatterND,
  sigmoid,
  slice,
  softmax,
  sqrt,
  sub,
  tanh,
  topk,
  transpose,
  trilu,
  unsqueeze,
  where,
  zeros,
  type Backend,
  type Dim,
  type HostTensor,
  type Tensor,
} from '@nnd/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectMatches } from '../../backend-onnx/src/op-cases.test-support.js';
import { createTfjsBackend } from './index.js';

/**
 * Representative graphs, differentiated by core's `grad`, run on tfjs and on
 * onnxruntime CPU with the same random feeds: every gradient must agree to
 * float32 accuracy. The gradient graphs exercise what the forward op cases
 * do not: ScatterND / ScatterElements with reduction 'add' (Gather, TopK and
 * GatherElements gradients), Range from runtime shapes (Slice gradients),
 * Expand of broadcast zeros, Transposes before MatMuls.
 */
interface GradientCase {
  readonly name: string;
  /** Declared shapes (may be symbolic) and the concrete shape fed, per input. */
  readonly inputs: Readonly<Record<string, { shape: readonly Dim[]; fed: readonly number[]; dtype?: 'float32' | 'int64'; values?: (size: number, rng: Rng) => ArrayLike<number> }>>;
  /** Builds the scalar loss; gradients are taken w.r.t. every float32 input. */
  readonly loss: (inputs: Record<string, Tensor>, graph: Graph) => Tensor;
}

const distinct = (size: number, rng: Rng) => Array.from(rng.permutation(size), (value) => (value - size / 2) / size);
const tokens = (vocabulary: number) => (size: number, rng: Rng) => Array.from({ length: size }, () => rng.int(vocabulary));

const CASES: GradientCase[] = [
  {
    name: 'MLP with gelu and cross-entropy over a symbolic batch',
    inputs: {
      x: { shape: ['batch', 6], fed: [5, 6] },
      w1: { shape: [6, 8], fed: [6, 8] },
      b1: { shape: [8], fed: [8] },
      w2: { shape: [8, 5], fed: [8, 5] },
      labels: { shape: ['batch'], fed: [5], dtype: 'int64', values: tokens(5) },
    },
    loss: ({ x, w1, b1, w2, labels }) => crossEntropy(matmul(geluTanh(add(matmul(x, w1), b1)), w2), labels),
  },
  {
    name: 'causal attention block with layerNorm',
    inputs: {
      x: { shape: ['batch', 4, 8], fed: [2, 4, 8] },
      scale: { shape: [8], fed: [8] },
      bias: { shape: [8], fed: [8] },
      wq: { shape: [8, 8], fed: [8, 8] },
      wk: { shape: [8, 8], fed: [8, 8] },
      wv: { shape: [8, 8], fed: [8, 8] },
    },
    loss: ({ x, scale, bias, wq, wk, wv }, graph) => {
      const normalized = layerNorm(x, scale, bias);
      const [q, k, v] = [wq, wk, wv].map((weight) => matmul(normalized, weight));
      const scores = div(matmul(q, transpose(k, [0, 2, 1])), Math.sqrt(8));
      const causal = trilu(graph.constant(new Array(16).fill(1), [4, 4], 'bool'), { upper: false });
      const pattern = softmax(where(causal, scores, -1e9));
      return reduceMean(mul(add(matmul(pattern, v), x), add(matmul(pattern, v), x)));
    },
  },
  {
    name: 'TopK sparse autoencoder',
    inputs: {
      x: { shape: ['batch', 8], fed: [6, 8] },
      encoder: { shape: [8, 16], fed: [8, 16], values: distinct },
      encoderBias: { shape: [16], fed: [16] },
      decoder: { shape: [16, 8], fed: [16, 8] },
      decoderBias: { shape: [8], fed: [8] },
    },
    loss: ({ x, encoder, encoderBias, decoder, decoderBias }, graph) => {
      const pre = relu(add(matmul(sub(x, decoderBias), encoder), encoderBias));
      const { values, indices } = topk(pre, 4);
      const acts = scatterElements(zeros(graph, pre.shape, 'float32'), indices, values, -1);
      const reconstruction = add(matmul(acts, decoder), decoderBias);
      return reduceMean(reduceSumSquare(sub(reconstruction, x), -1));
    },
  },
  {
    name: 'sparse decoder: Gather of decoder rows by TopK indices',
    inputs: {
      pre: { shape: ['batch', 12], fed: [4, 12], values: distinct },
      decoder: { shape: [12, 5], fed: [12, 5] },
    },
    loss: ({ pre, decoder }) => {
      const { values, indices } = topk(pre, 3, { largest: false });
      // [batch, 3, 5] rows weighted by their values: a Gather whose gradient scatter-adds repeated rows.
      const rows = gather(decoder, indices, 0);
      return reduceSumSquare(reduceSum(mul(rows, unsqueeze(values, -1)), 1));
    },
  },
  {
    name: 'embedding lookup, max over positions and log-softmax',
    inputs: {
      table: { shape: [10, 4], fed: [10, 4] },
      ids: { shape: ['batch', 3], fed: [5, 3], dtype: 'int64', values: tokens(10) },
    },
    loss: ({ table, ids }) => reduceSum(mul(logSoftmax(reduceMax(gather(table, ids, 0), 1), 0), logSoftmax(reduceMax(gather(table, ids, 0), 1)))),
  },
  {
    name: 'slices, concat, reshape and expand over a symbolic batch',
    inputs: { x: { shape: ['batch', 6], fed: [3, 6] }, y: { shape: [1, 3], fed: [1, 3] } },
    loss: ({ x, y }) => {
      const odd = slice(x, { starts: [1], ends: [6], axes: [1], steps: [2] });
      const reversed = slice(x, { starts: [-1], ends: [-7], axes: [1], steps: [-2] });
      const tail = slice(x, { starts: [1], ends: [Infinity], axes: [0] });
      const joined = concat([odd, reversed, expand(y, ['batch', 3])], 1);
      return add(reduceMean(mul(reshape(joined, [-1]), reshape(joined, [-1]))), reduceSum(tanh(tail)));
    },
  },
  {
    name: 'element-wise math',
    inputs: { a: { shape: [3, 4], fed: [3, 4], values: distinct }, b: { shape: [4], fed: [4], values: (size, rng) => rng.uniform(size, 0.5, 2) } },
    loss: ({ a, b }) => {
      const positive = add(abs(a), 0.5);
      const terms = [pow(positive, b), sqrt(positive), log(positive), exp(a), sigmoid(a), erf(a), maximum(a, mul(b, 0.1)), minimum(a, sub(b, 1.2)), div(a, b), relu(a), softmax(a, 0)];
      return terms.reduce<Tensor>((total, term, index) => add(total, mul(reduceSum(term), index + 1)), reduceSum(mul(a, 0)));
    },
  },
  {
    name: 'GatherElements, ScatterND none and rmsNorm',
    inputs: { x: { shape: [4, 5], fed: [4, 5] }, u: { shape: [2, 5], fed: [2, 5] }, scale: { shape: [5], fed: [5] } },
    loss: ({ x, u, scale }, graph) => {
      const picked = gatherElements(x, graph.constant([0, 4, 4, 1, 2, 3, -1, 0], [4, 2], 'int64'), 1);
      const written = scatterND(x, graph.constant([3, 1], [2, 1], 'int64'), u);
      return add(reduceSumSquare(picked), reduceSum(mul(rmsNorm(written, scale), written)));
    },
  },
];

function feedsFor(testCase: GradientCase, seed: number): Record<string, HostTensor> {
  const rng = new Rng(seed);
  return Object.fromEntries(
    Object.entries(testCase.inputs).map(([name, spec]) => {
      const size = spec.fed.reduce((product, dim) => product * dim, 1);
      const values = spec.values?.(size, rng) ?? rng.normal(size);
      return [name, hostTensor(spec.dtype ?? 'float32', spec.fed, spec.dtype === 'int64' ? Array.from(values, BigInt) : values)];
    }),
  );
}

// Gradients sum many products in different orders on the two engines.
const GRADIENT_TOLERANCE = { relative: 1e-4, absolute: 1e-5 };

describe.each(['wasm', 'cpu'] as const)('grad outputs agree between tfjs %s and backend-onnx', (runtime) => {
  const onnx = createOnnxBackend({ device: 'cpu', threads: 1 });
  let tfjs: Backend;
  beforeAll(async () => {
    tfjs = await createTfjsBackend({ runtime });
  });
  afterAll(() => Promise.all([onnx.dispose(), tfjs.dispose()]));

  it.each(CASES.map((testCase) => [testCase.name, testCase] as const))('%s', async (name, testCase) => {
    const graph = new Graph();
    const inputs = Object.fromEntries(Object.entries(testCase.inputs).map(([input, spec]) => [input, graph.input(input, spec.shape, spec.dtype ?? 'float32')]));
    const loss = testCase.loss(inputs, graph);
    const wrt = Object.keys(inputs).filter((input) => inputs[input].dtype === 'float32');
    const gradients = grad(
      loss,
      wrt.map((input) => inputs[input]),
    );
    const outputs = { loss, ...Object.fromEntries(wrt.map((input, index) => [`d_${input}`, gradients[index]])) };
    const [expectedProgram, actualProgram] = await Promise.all([onnx.compile(graph, { outputs }), tfjs.compile(graph, { outputs })]);
    const feeds = feedsFor(testCase, 4099);
    const [expected, actual] = [await expectedProgram.run(feeds), await actualProgram.run(feeds)];
    for (const output of Object.keys(outputs)) {
      const got = await actual[output].toHost();
      expect(got.shape).toEqual(output === 'loss' ? [] : feeds[output.slice(2)].shape);
      expectMatches(got, await expected[output].toHost(), `${name} '${output}'`, GRADIENT_TOLERANCE);
      // Agreement on all-zero gradients would prove nothing.
      expect(
        Array.from(got.data as Float32Array).some((value) => value !== 0),
        `${name} '${output}' is all zeros`,
      ).toBe(true);
      actual[output].dispose();
    }
    await Promise.all([expectedProgram.dispose(), actualProgram.dispose()]);
  });
});
