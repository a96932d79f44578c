import { Graph, gather, scatterND, reshape, zeros, matmul, hostTensor, reduceSum, Rng } from '@nnd/core';
import { createOnnxBackend } from '@nnd/backend-onnx';
const backend = createOnnxBackend();
const rows = 4096, d = 768, c = 128, m = 311, r = 32;
const rng = new Rng(0);
const idx = new BigInt64Array(c * m); for (let i = 0; i < idx.length; i++) idx[i] = BigInt(rng.int(rows));
const feeds = { x: hostTensor('float32', [rows, d], rng.normal(rows * d)), i: hostTensor('int64', [c, m], idx), o: hostTensor('float32', [c, m, d], rng.normal(c * m * d)), v: hostTensor('float32', [c, d, r], rng.normal(c * d * r)) };
async function time(name: string, build: (g: Graph, t: any) => any) {
  const g = new Graph();
  const t = { x: g.input('x', [rows, d]), i: g.input('i', [c, m], 'int64'), o: g.input('o', [c, m, d]), v: g.input('v', [c, d, r]) };
  const out = reduceSum(build(g, t));
  const p = await backend.compile(g, { outputs: { out }, hostOutputs: ['out'] });
  const walls: number[] = []; const cpus: number[] = [];
  for (let k = 0; k < 6; k++) {
    const c0 = process.cpuUsage(); const w0 = performance.now();
    const res = await p.run(Object.fromEntries(Object.entries(feeds).filter(([n]) => p.inputNames.includes(n))));
    await res.out.toHost();
    const c1 = process.cpuUsage(c0); walls.push(performance.now() - w0); cpus.push((c1.user + c1.system) / 1000);
  }
  walls.sort((a, b) => a - b); cpus.sort((a, b) => a - b);
  console.log(name, 'wall', walls[3].toFixed(0), 'cpu', cpus[3].toFixed(0));
}
await time('gather', (g, t) => gather(t.x, t.i, 0));
await time('scatterND', (g, t) => scatterND(zeros(g, [rows, d], 'float32'), reshape(t.i, [-1, 1]), reshape(t.o, [-1, d]), 'add'));
await time('bmm', (g, t) => matmul(t.o, t.v));
await time('gather+bmm', (g, t) => matmul(gather(t.x, t.i, 0), t.v));
await backend.dispose();
