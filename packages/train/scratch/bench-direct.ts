import { Rng } from '@nnd/core';
import { createOnnxBackend } from '@nnd/backend-onnx';
import { createSae } from '../../sae/src/sae-registry.js';
import { trainSae } from '../src/index.js';

const [type = 'topk', steps = '4', aux = ''] = process.argv.slice(2);
const actSize = 768, dictSize = 12288, batchSize = 4096;
const config: Record<string, unknown> = { architecture: type, act_size: actSize, dict_size: dictSize, batch_size: batchSize };
if (type === 'topk' || type === 'batchtopk') config.top_k = 32;
if (aux !== '') config.aux_penalty = Number(aux);
const sae = createSae(config);
const rng = new Rng(0);
const batches = [rng.normal(batchSize * actSize), rng.normal(batchSize * actSize)];
let position = 0;
const start = performance.now();
let last = start;
let lastCpu = process.cpuUsage();
await trainSae(sae, { nextBatch: async () => batches[position++ % 2] }, { num_tokens: batchSize * Number(steps), batch_size: batchSize }, {
  backend: createOnnxBackend(),
  logger: { log(metrics, step) { const now = performance.now(); const cpu = process.cpuUsage(lastCpu); console.log(step, (now - last).toFixed(0), 'ms wall', (cpu.user / 1000).toFixed(0), 'user', (cpu.system / 1000).toFixed(0), 'sys'); last = now; lastCpu = process.cpuUsage(); } },
});
