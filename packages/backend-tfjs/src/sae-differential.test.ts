import { createOnnxBackend } from '@nnd/backend-onnx';
import { Graph, Rng, add, grad, hostTensor, mul, sub, type Backend, type HostTensor, type Tensor } from '@nnd/core';
import { SAE_ARCHITECTURES, createSae } from '@nnd/sae';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectMatches } from '../../backend-onnx/src/op-cases.test-support.js';
import { createTfjsBackend } from './index.js';

const LEARNING_RATE = 1e-3;
const TOLERANCE = { relative: 1e-4, absolute: 1e-5 };

/**
 * One training step of an SAE as one graph: the forward pass, the summed
 * losses, their gradients, the decoder constraint (unit-norm rows, radial
 * gradient removed) and a plain gradient step. Adam is left out: it is
 * element-wise arithmetic that the op cases cover, while everything here is
 * SAE-specific (top-k and its sparse gradients, the auxiliary loss on dead
 * features, JumpReLU's straight-through estimators).
 */
function trainingStep(architecture: (typeof SAE_ARCHITECTURES)[number]) {
  const sae = createSae({
    architecture,
    act_size: 6,
    dict_size: 16,
    l1_coeff: 0.05,
    input_unit_norm: architecture === 'topk',
    ...(architecture.includes('topk') ? { top_k: 3, top_k_aux: 4 } : {}),
    ...(architecture === 'jumprelu' ? { bandwidth: 0.5 } : {}),
  });
  const graph = new Graph();
  const x = graph.input('x', ['batch', 6]);
  const initialParams = sae.initialParams(new Rng(3));
  const params = Object.fromEntries(Object.entries(initialParams).map(([name, tensor]) => [name, graph.input(name, tensor.shape, tensor.dtype)]));
  const initialState = sae.initialState();
  const state = Object.fromEntries(Object.entries(initialState).map(([name, tensor]) => [name, graph.input(`state.${name}`, tensor.shape, tensor.dtype)]));
  const forward = sae.forward(graph, { inputs: { [sae.hook]: x }, targets: { [sae.hook]: x } }, params, state);
  const output = { ...forward, reconstruction: forward.outputs[sae.hook] };
  const loss = Object.values(output.losses).reduce((total, term) => add(total, term));
  const names = Object.keys(params);
  const gradients = grad(
    loss,
    names.map((name) => params[name]),
  );
  const constrained = sae.constrain(graph, params, Object.fromEntries(names.map((name, index) => [name, gradients[index]])));
  const outputs: Record<string, Tensor> = { loss, reconstruction: output.reconstruction, featureActs: output.featureActs };
  for (const [name, tensor] of Object.entries({ ...output.losses, ...output.metrics })) outputs[`metric.${name}`] = tensor;
  for (const [name, tensor] of Object.entries(output.nextState)) outputs[`next_state.${name}`] = tensor;
  for (const name of names) {
    outputs[`grad.${name}`] = constrained.gradients[name];
    outputs[`next.${name}`] = sub(constrained.params[name], mul(constrained.gradients[name], LEARNING_RATE));
  }

  const rng = new Rng(41);
  const feeds: Record<string, HostTensor> = { x: hostTensor('float32', [8, 6], rng.normal(48)), ...Object.fromEntries(Object.entries(initialParams)) };
  if (architecture === 'jumprelu') feeds.log_threshold = hostTensor('float32', [16], rng.normal(16, -1.5, 0.2));
  for (const [name, tensor] of Object.entries(initialState)) feeds[`state.${name}`] = tensor;
  // Some features dead for long enough that the auxiliary losses have something to revive.
  if ('num_batches_not_active' in initialState) {
    feeds['state.num_batches_not_active'] = hostTensor(
      initialState.num_batches_not_active.dtype,
      [16],
      Array.from({ length: 16 }, (_, i) => (i % 4) * 3000),
    );
  }
  return { graph, outputs, feeds };
}

describe('one training step of each SAE type agrees between tfjs (wasm) and backend-onnx', () => {
  const onnx = createOnnxBackend({ device: 'cpu', threads: 1 });
  let tfjs: Backend;
  beforeAll(async () => {
    tfjs = await createTfjsBackend({ runtime: 'wasm' });
  });
  afterAll(() => Promise.all([onnx.dispose(), tfjs.dispose()]));

  it.each(SAE_ARCHITECTURES)('%s', async (architecture) => {
    const { graph, outputs, feeds } = trainingStep(architecture);
    const [expectedProgram, actualProgram] = await Promise.all([onnx.compile(graph, { outputs }), tfjs.compile(graph, { outputs })]);
    const [expected, actual] = [await expectedProgram.run(feeds), await actualProgram.run(feeds)];
    for (const name of Object.keys(outputs)) {
      expectMatches(await actual[name].toHost(), await expected[name].toHost(), `${architecture} '${name}'`, TOLERANCE);
      actual[name].dispose();
    }
    expect(Array.from((await expected['grad.W_dec'].toHost()).data as Float32Array).some((value) => value !== 0)).toBe(true);
    await Promise.all([expectedProgram.dispose(), actualProgram.dispose()]);
  });
});
