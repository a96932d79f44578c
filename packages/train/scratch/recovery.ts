import { createOnnxBackend } from '@nnd/backend-onnx';
import { createSae } from '@nnd/sae';
import { recoveredFraction, randomDirections, sparseDirectionSource } from '../src/sparse-directions.test-support.js';
import { trainSae } from '../src/index.js';

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.split('=')));
const num = (k: string, d: number) => (args[k] !== undefined ? Number(args[k]) : d);
const type = args.type ?? 'topk';
const directions = randomDirections(256, 64, num('dseed', 1));
const batch = num('batch', 256), steps = num('steps', 2000);
const source = sparseDirectionSource(directions, { batchSize: batch, fewest: num('fewest', 4), most: num('most', 4), minimum: num('min', 1), maximum: num('max', 3), seed: 2 });
const config: Record<string, unknown> = { architecture: type, act_size: 64, dict_size: num('dict', 512), seed: num('seed', 3) };
if (type === 'topk' || type === 'batchtopk') { config.top_k = num('k', 4); if (args.aux) config.aux_penalty = num('aux', 0); if (args.dense) config.sparse_decoder = false; if (args.kaux) config.top_k_aux = num('kaux', 512); }
if (type === 'vanilla' || type === 'jumprelu') config.l1_coeff = num('l1', 1e-3);
if (type === 'jumprelu') config.bandwidth = num('bw', 0.001);
const start = performance.now();
let lastMetrics: Record<string, number> = {};
const result = await trainSae(createSae(config), source, { num_tokens: batch * steps, batch_size: batch, lr: num('lr', 1e-3), log_freq: 100, seed: num('tseed', 49) }, {
  backend: createOnnxBackend(),
  logger: { log: (m, s) => { lastMetrics = { ...m }; if (s % 500 === 0) console.log(s, JSON.stringify(m)); } },
});
const seconds = (performance.now() - start) / 1000;
console.log(type, JSON.stringify(args), 'recovered', recoveredFraction(directions, result.params.W_dec.data as Float32Array, 0.9).toFixed(3), 'in', seconds.toFixed(1), 's', JSON.stringify(lastMetrics));
{
  const W = result.params.W_dec.data as Float32Array;
  const rows = W.length / 64;
  const bestPerDirection: number[] = [];
  const owner = new Map<number, number>();
  for (let d = 0; d < 256; d++) {
    let best = -1, arg = -1;
    for (let r = 0; r < rows; r++) { let dot = 0; for (let i = 0; i < 64; i++) dot += directions.directions[d * 64 + i] * W[r * 64 + i]; if (dot > best) { best = dot; arg = r; } }
    bestPerDirection.push(best); owner.set(arg, (owner.get(arg) ?? 0) + 1);
  }
  const sorted = [...bestPerDirection].sort((a, b) => a - b);
  console.log('worst cosines', sorted.slice(0, 30).map((v) => v.toFixed(2)).join(' '));
  console.log('rows owning >1 direction', [...owner.values()].filter((v) => v > 1).length);
  const counter = result.state.num_batches_not_active.data as Float32Array;
  console.log('dead rows', counter.filter((c) => c >= 5).length);
}
