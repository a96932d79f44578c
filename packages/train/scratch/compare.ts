import { createOnnxBackend } from '@nnd/backend-onnx';
import { createReferenceBackend } from '@nnd/core';
import { createSae } from '@nnd/sae';
import { randomDirections, sparseDirectionSource } from '../src/sparse-directions.test-support.js';
import { trainSae } from '../src/index.js';
const type = process.argv[2] ?? 'batchtopk';
const directions = randomDirections(64, 16, 1);
const run = async (backend: any) => {
  const source = sparseDirectionSource(directions, { batchSize: 32, fewest: 2, most: 6, minimum: 2, maximum: 6, seed: 2 });
  const config: any = { architecture: type, act_size: 16, dict_size: 64 };
  if (type.includes('topk')) config.top_k = 4;
  return trainSae(createSae(config), source, { num_tokens: 32 * 20, batch_size: 32, lr: 0.003 }, { backend });
};
const a = await run(createOnnxBackend());
const b = await run(createReferenceBackend());
for (const name of Object.keys(a.params)) {
  const x = a.params[name].data as Float32Array, y = b.params[name].data as Float32Array;
  let max = 0; for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i] - y[i]));
  console.log(name, 'max diff', max);
}
console.log(a.metrics, b.metrics);
