/**
 * A training run for the SIGINT test, started in a child process:
 * `node --conditions=@nnd/source --import tsx sigint-training.test-support.ts <checkpointDir> <finishMarker> [hang]`.
 * It prints `step N` after each step so the parent knows when to interrupt.
 * Its logger's `finish` prints `finishing`, waits a little (as a W&B flush
 * would) and then writes the summary it got to `<finishMarker>`; with `hang`
 * it never returns, for the second SIGINT.
 */
import { createOnnxBackend } from '@nnd/backend-onnx';
import { writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { linearDecomposition } from './linear-decomposition.test-support.js';
import { gaussianSource } from './synthetic-source.test-support.js';
import { trainDecomposition } from './train-decomposition.js';

const [checkpointDir, finishMarker, mode] = process.argv.slice(2);
await trainDecomposition(
  linearDecomposition({ act_size: 8, dict_size: 4, l1_coeff: 0.01 }),
  gaussianSource(32, 8, 1),
  {
    num_tokens: 32 * 1_000_000,
    batch_size: 32,
    checkpoint_freq: 1_000_000,
  },
  {
    backend: createOnnxBackend({ threads: 1 }),
    checkpointDir,
    logger: {
      log: (_, step) => void process.stdout.write(`step ${step}\n`),
      async finish(summary) {
        process.stdout.write('finishing\n');
        await sleep(mode === 'hang' ? 3_600_000 : 300);
        await writeFile(finishMarker, JSON.stringify(summary));
      },
    },
  },
);
// Reached only if training ends without an interrupt.
process.stdout.write('completed\n');
