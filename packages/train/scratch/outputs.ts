import { createRequire } from 'node:module';
import onnxProto from 'onnx-proto';
const require = createRequire(new URL('../../backend-onnx/package.json', import.meta.url));
const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
const { onnx } = onnxProto;
const n = 768 * 12288;
const vi = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: n }] } } } });
const bytes = onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: 18 }], graph: { name: 'g',
  node: [{ opType: 'Add', input: ['a', 'b'], output: ['c'] }, { opType: 'Mul', input: ['a', 'b'], output: ['d'] }],
  input: [vi('a'), vi('b')], output: [vi('c'), vi('d')] } }).finish();
const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 2 });
const a = new ort.Tensor('float32', new Float32Array(n).fill(1), [n]);
const b = new ort.Tensor('float32', new Float32Array(n).fill(2), [n]);
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  const r = await session.run({ a, b });
  const t1 = performance.now();
  console.log('fresh outputs', (t1 - t0).toFixed(1), 'ms', (r.c.data as Float32Array)[5]);
}
const c = new ort.Tensor('float32', new Float32Array(n), [n]);
const d = new ort.Tensor('float32', new Float32Array(n), [n]);
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  const r = await session.run({ a, b }, { c, d });
  console.log('preallocated', (performance.now() - t0).toFixed(1), 'ms', (r.c.data as Float32Array)[5], r.c.data === c.data);
}
