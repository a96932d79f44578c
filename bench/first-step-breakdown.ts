// Where the first training step's time goes: building the step graph (forward, autodiff, Adam), lowering it to ONNX,
// onnxruntime's session creation (graph optimisation, kernel set-up) and the first runs, at the seed size of
// `bench sae --type topk`, with each phase's CPU time (user, system) and page faults.
// Run: node --conditions=@nnd/source --import tsx bench/first-step-breakdown.ts [variant]
// With no variant it times the full step (auxiliary loss); `no_dead_features` times the one a fresh run takes first.
// Under `pnpm bench`'s malloc settings: MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=100000000000 node ...
import { compileToOnnx, createOnnxBackend } from '@nnd/backend-onnx';
import { Rng } from '@nnd/core';
import { createSae } from '@nnd/sae';
import { buildTrainingStep } from '../packages/train/src/training-step.js';

const variant = process.argv[2];
const sae = createSae({ architecture: 'topk', act_size: 768, dict_size: 12288, batch_size: 4096, top_k: 32 });
const params = sae.initialParams(new Rng(0));
const state = sae.initialState();
const spec = (tensors: Record<string, { shape: readonly number[]; dtype: string }>) =>
  Object.fromEntries(Object.entries(tensors).map(([name, tensor]) => [name, { shape: [...tensor.shape], dtype: tensor.dtype }]));
const member = { decomposition: sae, params: spec(params), state: spec(state), adam: { lr: 3e-4, beta1: 0.9, beta2: 0.99, epsilon: 1e-8 }, maxGradNorm: 1e5 } as never;

/** Wall, user and system milliseconds and minor page faults of one phase. */
async function phase<T>(fn: () => Promise<T> | T): Promise<{ result: T; cost: { wall_ms: number; user_ms: number; sys_ms: number; faults: number } }> {
  const before = process.resourceUsage();
  const start = performance.now();
  const result = await fn();
  const wall = performance.now() - start;
  const after = process.resourceUsage();
  return {
    result,
    cost: {
      wall_ms: Math.round(wall),
      user_ms: Math.round((after.userCPUTime - before.userCPUTime) / 1000),
      sys_ms: Math.round((after.systemCPUTime - before.systemCPUTime) / 1000),
      faults: after.minorPageFault - before.minorPageFault,
    },
  };
}

const built = await phase(() => buildTrainingStep([member], 4096, [variant]));
const step = built.result;
const lowered = await phase(() => compileToOnnx(step.graph, step.outputs));
const backend = createOnnxBackend();
const compiled = await phase(() => backend.compile(step.graph, { outputs: step.outputs }));
const program = compiled.result;
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
const runs = [];
for (let run = 0; run < 3; run++) {
  const ran = await phase(() => program.run(feeds as never));
  runs.push(ran.cost);
  for (const tensor of Object.values(ran.result)) tensor.dispose();
}
console.log(
  JSON.stringify({
    variant: variant ?? 'full',
    build_graph: built.cost,
    lower_to_onnx: lowered.cost,
    backend_compile: compiled.cost,
    runs,
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  }),
);
void lowered.result;
await program.dispose();
await backend.dispose();
