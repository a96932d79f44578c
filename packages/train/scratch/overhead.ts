import { createOnnxBackend } from '@nnd/backend-onnx';
import type { Backend, Program } from '@nnd/core';
import { linearDecomposition } from '../src/linear-decomposition.test-support.js';
import { gaussianSource } from '../src/synthetic-source.test-support.js';
import { trainSae } from '../src/index.js';
const backend = createOnnxBackend();
let runTime = 0;
const wrapped: Backend = { ...backend, specificationVersion: backend.specificationVersion, name: backend.name, capabilities: backend.capabilities, upload: backend.upload.bind(backend), dispose: backend.dispose.bind(backend),
  async compile(graph, options) {
    const program = await backend.compile(graph, options);
    const run = program.run.bind(program);
    return { inputNames: program.inputNames, outputNames: program.outputNames, dispose: program.dispose.bind(program),
      async run(feeds) { const t = performance.now(); const r = await run(feeds); runTime += performance.now() - t; return r; } } as Program;
  } };
const steps = 2000;
const start = performance.now();
await trainSae(linearDecomposition({ act_size: 64, dict_size: 512, l1_coeff: 0.01 }), gaussianSource(256, 64, 1), { num_tokens: 256 * steps, batch_size: 256 }, { backend: wrapped });
const total = performance.now() - start;
console.log('per step total', (total / steps).toFixed(2), 'ms; in run', (runTime / steps).toFixed(2), 'ms');
