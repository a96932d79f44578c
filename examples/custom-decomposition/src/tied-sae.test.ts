import { createOnnxBackend } from '@nnd/backend-onnx';
import { Rng } from '@nnd/core';
import { createLogger } from '@nnd/logging';
import { loadRuns, writeReport } from '@nnd/results';
import { trainDecomposition } from '@nnd/train';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { tiedSae } from './tied-sae.js';

const backend = createOnnxBackend({ threads: 1 });
afterAll(() => backend.dispose());

/** Batches that are sparse sums of a few fixed directions: what an SAE can learn. */
function sparseSource(batchSize: number, width: number, directions: number, seed: number) {
  const rng = new Rng(seed);
  const dictionary = rng.normal(directions * width);
  return {
    async nextBatch() {
      const batch = new Float32Array(batchSize * width);
      for (let row = 0; row < batchSize; row++) {
        for (let pick = 0; pick < 3; pick++) {
          const direction = rng.int(directions);
          const scale = rng.uniform(1, 0.5, 2)[0];
          for (let column = 0; column < width; column++) batch[row * width + column] += scale * dictionary[direction * width + column];
        }
      }
      return batch;
    },
  };
}

it('trains with the unchanged trainer and logger, its loss falls, and the report shows it', async () => {
  const runs = await mkdtemp(join(tmpdir(), 'nnd-tied-'));
  try {
    const sae = tiedSae.create(tiedSae.parseConfig({ hook_point: 'activations', act_size: 16, dict_size: 32, l1_coeff: 1e-3 }));
    const logger = createLogger({ runsDirectory: runs, console: false, wandb: false });
    await logger.init({ name: 'tied', sae_type: 'tied', dict_size: 32, num_tokens: 64 * 150, batch_size: 64 });
    const losses: number[] = [];
    const result = await trainDecomposition(
      sae,
      sparseSource(64, 16, 24, 1),
      { num_tokens: 64 * 150, batch_size: 64, lr: 1e-2, seed: 3 },
      {
        backend,
        logger: {
          log: (metrics, step) => {
            losses.push(metrics.loss);
            logger.log({ ...metrics }, step);
          },
        },
        checkpointDir: join(logger.runDirectory, 'checkpoints'),
        handleSignals: false,
      },
    );
    await logger.finish({ status: result.status });

    expect(result.status).toBe('completed');
    expect(losses).toHaveLength(150);
    const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
    expect(mean(losses.slice(-10))).toBeLessThan(0.3 * mean(losses.slice(0, 10)));
    expect(existsSync(join(result.checkpoint!, 'sae_weights.safetensors'))).toBe(true);

    const report = await writeReport(await loadRuns([{ type: 'directory', directory: runs }]), join(runs, 'report.html'));
    expect(await readFile(report, 'utf8')).toContain('tied');
  } finally {
    await rm(runs, { recursive: true, force: true });
  }
});
