/**
 * A training run for the SIGINT test, started in a child process:
 * `node --conditions=@nnd/source --import tsx sigint-training.test-support.ts <checkpointDir>`.
 * It prints `step N` after each step so the parent knows when to interrupt.
 */
import { createOnnxBackend } from '@nnd/backend-onnx';
import { linearDecomposition } from './linear-decomposition.test-support.js';
import { gaussianSource } from './synthetic-source.test-support.js';
import { trainSae } from './train-sae.js';

const checkpointDir = process.argv[2];
await trainSae(linearDecomposition({ act_size: 8, dict_size: 4, l1_coeff: 0.01 }), gaussianSource(32, 8, 1), {
  num_tokens: 32 * 1_000_000, batch_size: 32, checkpoint_freq: 1_000_000,
}, {
  backend: createOnnxBackend({ threads: 1 }),
  checkpointDir,
  logger: { log: (_, step) => void process.stdout.write(`step ${step}\n`) },
});
// Reached only if training ends without an interrupt.
process.stdout.write('completed\n');
