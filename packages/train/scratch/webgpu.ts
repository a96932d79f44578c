import { createOnnxBackend } from '@nnd/backend-onnx';
import { createSae } from '@nnd/sae';
import { gaussianSource } from '../src/synthetic-source.test-support.js';
import { trainSae } from '../src/index.js';
const config = { num_tokens: 64 * 5, batch_size: 64, lr: 0.01 };
const make = () => createSae({ architecture: 'topk', act_size: 16, dict_size: 64, top_k: 4 });
const gpu = await trainSae(make(), gaussianSource(64, 16, 1), config, { backend: createOnnxBackend({ device: 'webgpu' }), logger: { log: (m, s) => console.log('gpu', s, m.loss) } });
const cpu = await trainSae(make(), gaussianSource(64, 16, 1), config, { backend: createOnnxBackend({ device: 'cpu' }), logger: { log: (m, s) => console.log('cpu', s, m.loss) } });
let max = 0;
for (const name of Object.keys(cpu.params)) { const a = cpu.params[name].data as Float32Array, b = gpu.params[name].data as Float32Array; for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i])); }
console.log('max param diff gpu vs cpu', max);
