import { createOnnxBackend } from '@nnd/backend-onnx';
import { createSae } from '@nnd/sae';
import { randomDirections, sparseDirectionSource } from '../src/sparse-directions.test-support.js';
import { trainSae } from '../src/index.js';
const directions = randomDirections(64, 16, 1);
const run = async (type: string, aux: number) => {
  const source = sparseDirectionSource(directions, { batchSize: 1, fewest: 2, most: 6, minimum: 2, maximum: 6, seed: 2 });
  return trainSae(createSae({ architecture: type, act_size: 16, dict_size: 64, top_k: 4, aux_penalty: aux }), source, { num_tokens: 30, batch_size: 1, lr: 0.003 }, { backend: createOnnxBackend() });
};
for (const aux of [0, 1 / 32]) {
  const a = await run('topk', aux), b = await run('batchtopk', aux);
  for (const name of Object.keys(a.params)) {
    const x = a.params[name].data as Float32Array, y = b.params[name].data as Float32Array;
    let max = 0; for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i] - y[i]));
    console.log('aux', aux, name, 'max diff', max);
  }
}
