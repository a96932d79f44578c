import { createOnnxBackend } from '@nnd/backend-onnx';
import { Graph, hostTensor, type DeviceTensor, type Feed } from '@nnd/core';
import { adamCorrections, adamUpdate } from '../src/adam.js';
import { clipGradNorm } from '../src/clip-grad-norm.js';
const n = 768 * 12288;
const graph = new Graph();
const hyper = { lr: 3e-4, beta1: 0.9, beta2: 0.99, epsilon: 1e-8 };
const step = graph.input('step', [], 'float64');
const corrections = adamCorrections(step, hyper);
const outputs: Record<string, any> = {};
const grads: Record<string, any> = {};
for (const name of ['a', 'b']) grads[name] = graph.input(`g_${name}`, [n]);
const clipped = process.argv[2] === 'noclip' ? { gradients: grads } : clipGradNorm(grads, 1e5);
for (const name of ['a', 'b']) {
  const r = adamUpdate(graph.input(`p_${name}`, [n]), clipped.gradients[name], graph.input(`m_${name}`, [n]), graph.input(`v_${name}`, [n]), corrections, hyper);
  outputs[`np_${name}`] = r.param; outputs[`nm_${name}`] = r.firstMoment; outputs[`nv_${name}`] = r.secondMoment;
}
const backend = createOnnxBackend();
const program = await backend.compile(graph, { outputs });
let feeds: Record<string, Feed> = {};
for (const name of ['a', 'b']) for (const kind of ['p', 'g', 'm', 'v']) feeds[`${kind}_${name}`] = hostTensor('float32', [n], new Float32Array(n).fill(0.5));
for (let i = 0; i < 8; i++) {
  const c0 = process.cpuUsage(); const t0 = performance.now();
  const r = await program.run({ ...feeds, step: hostTensor('float64', [], [i + 1]) });
  const c = process.cpuUsage(c0);
  for (const name of ['a', 'b']) { feeds[`p_${name}`] = r[`np_${name}`]; feeds[`m_${name}`] = r[`nm_${name}`]; feeds[`v_${name}`] = r[`nv_${name}`]; }
  console.log(i, 'wall', (performance.now() - t0).toFixed(0), 'user', (c.user / 1000).toFixed(0), 'sys', (c.system / 1000).toFixed(0));
}
