import { createRequire } from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
const require = createRequire(new URL('../../backend-onnx/package.json', import.meta.url));
const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
const { onnx } = onnxProto;
const n = 768 * 12288;
const vi = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: n }] } } } });
const bytes = onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: 18 }], graph: { name: 'g',
  node: [{ opType: 'Add', input: ['a', 'b'], output: ['c'] }, { opType: 'Mul', input: ['c', 'b'], output: ['d'] }, { opType: 'ReduceSum', input: ['d'], output: ['e'] }],
  input: [vi('a'), vi('b')], output: [process.argv[2] === 'big' ? vi('d') : { name: 'e', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }] } } } }] } }).finish();
const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 2, enableProfiling: true, profileFilePrefix: '/tmp/o2prof' });
const a = new ort.Tensor('float32', new Float32Array(n).fill(1), [n]);
const b = new ort.Tensor('float32', new Float32Array(n).fill(2), [n]);
const walls: number[] = [];
const pre = new ort.Tensor('float32', new Float32Array(n), [n]);
const { readFileSync: rf } = await import('node:fs');
const faults = () => Number(rf('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[7]);
for (let i = 0; i < 8; i++) {
  const f0 = faults();
  const t0 = performance.now();
  if (process.argv[3] === 'pre') { const r = await session.run({ a, b }, { d: pre }); if (i === 0) console.log('same buffer', (r.d.data as Float32Array).buffer === pre.data.buffer, (pre.data as Float32Array)[3]); }
  else await session.run({ a, b });
  walls.push(performance.now() - t0);
  if (i > 3) console.log('minor faults', faults() - f0);
}
session.endProfiling();
const file = '/tmp/' + readdirSync('/tmp').filter((f) => f.startsWith('o2prof')).sort().pop();
const events = JSON.parse(readFileSync(file, 'utf8')) as any[];
const runs = events.filter((e) => e.name === 'model_run').map((e) => e.dur / 1000);
const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
console.log(process.argv[2], 'wall', walls.map((w) => w.toFixed(0)).join(' '));
console.log('model_run', runs.map((w) => w.toFixed(0)).join(' '));
console.log('kernels', kernels.map((e) => `${e.args.op_name}:${(e.dur / 1000).toFixed(0)}`).join(' '));
