import { Rng, hostTensor, type HostTensor } from '@nnd/core';
import { compileToOnnx } from '@nnd/backend-onnx';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { createSae } from '../../sae/src/sae-registry.js';
import { buildTrainingStep, specOf } from '../src/training-step.js';
import { STATE_KINDS, stateInputName } from '../src/step-names.js';

const require = createRequire(new URL('../../backend-onnx/package.json', import.meta.url));
const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');

const [type = 'topk', aux = '0', runs = '3', actArg = '768', dictArg = '12288', batchArg = '4096'] = process.argv.slice(2);
const actSize = Number(actArg), dictSize = Number(dictArg), batchSize = Number(batchArg);
const config: Record<string, unknown> = { architecture: type, act_size: actSize, dict_size: dictSize, batch_size: batchSize };
if (type === 'topk' || type === 'batchtopk') { config.top_k = 32; config.aux_penalty = Number(aux); }
if (type === 'vanilla' || type === 'jumprelu') config.l1_coeff = 1e-3;
const sae = createSae(config);
const rng = new Rng(0);
const params = sae.initialParams(rng);
const state = sae.initialState();
const step = buildTrainingStep([{
  decomposition: sae,
  params: Object.fromEntries(Object.entries(params).map(([n, t]) => [n, specOf(t)])),
  state: Object.fromEntries(Object.entries(state).map(([n, t]) => [n, specOf(t)])),
  adam: { lr: 3e-4, beta1: 0.9, beta2: 0.99, epsilon: 1e-8 },
  maxGradNorm: 100000,
}], [batchSize, actSize]);
const model = compileToOnnx(step.graph, step.outputs);
console.log('nodes', step.graph.nodes.length, 'model bytes', model.bytes.length);
const session = await ort.InferenceSession.create(model.bytes, { executionProviders: ['cpu'], graphOptimizationLevel: 'all', enableProfiling: true, profileFilePrefix: '/tmp/ortprof', intraOpNumThreads: 2 , optimizedModelFilePath: '/tmp/optimized.onnx'});
const feeds: Record<string, any> = {};
const toOrt = (t: HostTensor) => new ort.Tensor(t.dtype as any, t.data as any, t.shape as number[]);
const zerosLike = (t: HostTensor) => hostTensor('float32', t.shape, new Float32Array(t.data.length));
for (const [n, t] of Object.entries(params)) {
  feeds[stateInputName(0, 'param', n)] = toOrt(t);
  feeds[stateInputName(0, 'adam_m', n)] = toOrt(zerosLike(t));
  feeds[stateInputName(0, 'adam_v', n)] = toOrt(zerosLike(t));
}
for (const [n, t] of Object.entries(state)) feeds[stateInputName(0, 'state', n)] = toOrt(t);
feeds.batch = new ort.Tensor('float32', rng.normal(batchSize * actSize), [batchSize, actSize]);
for (let i = 0; i < Number(runs); i++) {
  feeds.step = new ort.Tensor('float64', new Float64Array([i + 1]), []);
  const t0 = performance.now();
  await session.run(feeds);
  console.log('run', i, (performance.now() - t0).toFixed(0), 'ms');
}
session.endProfiling();
const { readdirSync } = await import('node:fs');
const file = '/tmp/' + readdirSync('/tmp').filter((f) => f.startsWith('ortprof')).sort().pop();
const events = JSON.parse(readFileSync(file, 'utf8')) as any[];
const runsSeen = Number(runs);
const modelRuns = events.filter((e) => e.name === 'model_run').map((e) => (e.dur / 1000).toFixed(0));
console.log('model_run ms', modelRuns.join(' '));
const byNode = new Map<string, { dur: number; op: string; count: number }>();
const nodeEvents = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
const perRun = nodeEvents.length / runsSeen;
const kept = nodeEvents.slice(perRun * Number(process.env.SKIP ?? 2));
const keptRuns = runsSeen - Number(process.env.SKIP ?? 2);

for (const e of kept) {
  if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
  const name = e.name.replace(/_kernel_time$/, '');
  const entry = byNode.get(name) ?? { dur: 0, op: e.args?.op_name, count: 0 };
  entry.dur += e.dur; entry.count++;
  byNode.set(name, entry);
}
const byOp = new Map<string, number>();
for (const [, v] of byNode) byOp.set(v.op, (byOp.get(v.op) ?? 0) + v.dur / keptRuns);
const total = [...byOp.values()].reduce((a, b) => a + b, 0);
console.log('total kernel ms per run (avg incl first)', (total / 1000).toFixed(0));
console.log([...byOp.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20).map(([op, d]) => `${op}: ${(d / 1000).toFixed(1)} ms`).join('\n'));
console.log('--- top nodes');
console.log([...byNode.entries()].sort((a, b) => b[1].dur - a[1].dur).slice(0, 70).map(([n, v]) => `${n} ${v.op}: ${(v.dur / 1000 / keptRuns).toFixed(1)} ms`).join('\n'));
