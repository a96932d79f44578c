// Where the first training step's time goes: building the step graph (forward, autodiff, Adam), lowering it to ONNX,
// and onnxruntime's session creation (graph optimisation, kernel set-up), at the seed size of `bench sae --type topk`.
// Run: node --conditions=@nnd/source --import tsx bench/first-step-breakdown.ts
import { compileToOnnx, createOnnxBackend } from '@nnd/backend-onnx';
import { Rng } from '@nnd/core';
import { createSae } from '@nnd/sae';
import { buildTrainingStep } from '../packages/train/src/training-step.js';

const sae = createSae({ architecture: 'topk', act_size: 768, dict_size: 12288, batch_size: 4096, top_k: 32 });
const params = sae.initialParams(new Rng(0));
const state = sae.initialState();
const spec = (tensors: Record<string, { shape: readonly number[]; dtype: string }>) =>
  Object.fromEntries(Object.entries(tensors).map(([name, tensor]) => [name, { shape: [...tensor.shape], dtype: tensor.dtype }]));
const member = { decomposition: sae, params: spec(params), state: spec(state), adam: { lr: 3e-4, beta1: 0.9, beta2: 0.99, epsilon: 1e-8 }, maxGradNorm: 1e5 } as never;
let start = performance.now();
const step = buildTrainingStep([member], 4096, []);
const buildMs = performance.now() - start;
start = performance.now();
const model = compileToOnnx(step.graph, step.outputs);
const lowerMs = performance.now() - start;
const backend = createOnnxBackend();
start = performance.now();
const program = await backend.compile(step.graph, { outputs: step.outputs });
const compileMs = performance.now() - start;
// Feeds: the batch, the step number and zeroed Adam moments, as the trainer feeds them.
const { batchInputName, stateInputName, STEP_INPUT } = await import('../packages/train/src/step-names.js');
const { hostTensor } = await import('@nnd/core');
const feeds: Record<string, unknown> = { [batchInputName(sae.hook)]: hostTensor('float32', [4096, 768], new Rng(1).normal(4096 * 768)), [STEP_INPUT]: hostTensor('float64', [], [1]) };
for (const [name, tensor] of Object.entries(params)) {
  feeds[stateInputName(0, 'param', name)] = tensor;
  feeds[stateInputName(0, 'adam_m', name)] = hostTensor('float32', tensor.shape, new Float32Array(tensor.data.length));
  feeds[stateInputName(0, 'adam_v', name)] = hostTensor('float32', tensor.shape, new Float32Array(tensor.data.length));
}
for (const [name, tensor] of Object.entries(state)) feeds[stateInputName(0, 'state', name)] = tensor;
const runs: number[] = [];
for (let run = 0; run < 3; run++) {
  start = performance.now();
  const outputs = await program.run(feeds as never);
  runs.push(Math.round(performance.now() - start));
  for (const tensor of Object.values(outputs)) tensor.dispose();
}
console.log(JSON.stringify({ runs_ms: runs, build_graph_ms: Math.round(buildMs), lower_to_onnx_ms: Math.round(lowerMs), backend_compile_ms: Math.round(compileMs) }));
void model;
await program.dispose();
await backend.dispose();
