import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, readRunDirectory } from '@nnd/logging';
import type { ExitSummary, Logger as TrainLogger } from '@nnd/train';
import { expect, it } from 'vitest';

it("@nnd/logging's createLogger() is a @nnd/train Logger whose finish, called on SIGINT, closes the run directory", async () => {
  const directory = await mkdtemp(join(tmpdir(), 'nnd-train-logger-'));
  try {
    const logger = createLogger({ runsDirectory: directory, name: 'library', console: false, wandb: false, env: {} });
    await logger.init({ sae_type: 'topk' });
    // Compiles only while the trainer's Logger (log, and finish as the trainer calls it) accepts logging's.
    const trainLogger: TrainLogger = logger;
    await trainLogger.log({ loss: 0.5 }, 0);
    const summary: ExitSummary = { status: 'interrupted', steps: 1, checkpoint: join(directory, 'library', 'checkpoints', 'step_1') };
    await trainLogger.finish?.(summary);
    expect(readRunDirectory(logger.runDirectory).summary).toEqual({ loss: 0.5, ...summary });
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
