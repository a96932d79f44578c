// A training stand-in, run as its own process by the run directory tests so
// that it can be killed mid-run:
//   node --conditions=@nnd/source --import tsx src/log-loop.test-support.ts <settings JSON>
// It logs steps `from`..`to` - 1 (one every `delayMs`), writes a checkpoint
// every `checkpointEvery` steps, prints `logged <step>` every 10 steps, and
// calls finish at the end when `finish` is set.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createLogger } from './create-logger.js';

interface LoopSettings {
  runsDirectory: string;
  name: string;
  config: Record<string, unknown>;
  from: number;
  to: number;
  delayMs: number;
  checkpointEvery: number;
  finish: boolean;
}

const settings = JSON.parse(process.argv[2] ?? '{}') as LoopSettings;
const logger = createLogger({ runsDirectory: settings.runsDirectory, name: settings.name, console: false, wandb: false });
await logger.init(settings.config, { totalSteps: settings.to });
// Wide rows, so that a kill has many bytes in flight to land in.
const padding = Object.fromEntries(Array.from({ length: 48 }, (_, index) => [`extra/metric_${index}`, index / 7]));
for (let step = settings.from; step < settings.to; step += 1) {
  logger.log({ loss: 1 / (step + 1), l0_norm: 32, l2_loss: 0.5, l1_loss: 0.1, l1_norm: 0.2, ...padding }, step);
  if (step % settings.checkpointEvery === 0) {
    const directory = logger.checkpointDirectory(step);
    fs.writeFileSync(path.join(directory, 'state.json'), JSON.stringify({ step }));
    logger.artifact(`checkpoint_${step}`, [path.join(directory, 'state.json')], { step });
  }
  if (step % 10 === 0) process.stdout.write(`logged ${step}\n`);
  await new Promise((resolve) => setTimeout(resolve, settings.delayMs));
}
if (settings.finish) await logger.finish({ finished_by: 'log-loop' });
process.stdout.write('done\n');
