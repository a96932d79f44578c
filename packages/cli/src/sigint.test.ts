import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { lockRunDirectory } from '@nnd/logging';
import { stringify } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCaptured } from './cli-capture.test-support.js';
import { tinyShapedConfig, writeRandomLanguageModel } from './language-model.test-support.js';

let directory: string;
let configFile: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-sigint-'));
  // A small random model: the test is about the interrupt, not about what is learnt.
  const model = await writeRandomLanguageModel(join(directory, 'lm'), tinyShapedConfig(2, 32));
  configFile = join(directory, 'config.yaml');
  await writeFile(
    configFile,
    stringify({
      model_name: model,
      name: 'interrupted',
      layer: 1,
      act_size: 32,
      dict_size: 64,
      top_k: 4,
      top_k_aux: 16,
      dataset_path: 'sotu',
      document_token_limit: 'none',
      keep_remainder: true,
      seq_len: 32,
      batch_size: 64,
      num_tokens: 64 * 400,
      model_batch_size: 4,
      num_batches_in_buffer: 2,
      perf_log_freq: 1000,
      checkpoint_freq: 1000,
      eval_tokens: 128,
      run_dir: join(directory, 'runs'),
    }),
  );
});
afterAll(() => rm(directory, { recursive: true, force: true }));

/**
 * Starts `nnd train` as a user's shell would (the command leads its own
 * process group, and nnd relaunches itself) and calls `interrupt` once the
 * first step's progress line is out: training is under way.
 */
async function trainUntilInterrupted(name: string, interrupt: (child: ChildProcess) => void): Promise<{ code: number | null; stderr: string }> {
  const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
  const child = spawn(process.execPath, ['--conditions=@nnd/source', '--import', 'tsx', cli, 'train', '--config', configFile, '--set', `name=${name}`], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: { PATH: process.env.PATH, WANDB_MODE: 'disabled' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  let interrupted = false;
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (!interrupted && /step 1\/400/.test(stderr)) {
      interrupted = true;
      interrupt(child);
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
  expect(interrupted).toBe(true);
  return { code, stderr };
}

it('Ctrl-C during training writes a checkpoint, closes the run and exits with 130; --resume finishes the run', async () => {
  const { code, stderr } = await trainUntilInterrupted('interrupted', (child) => child.kill('SIGINT'));
  expect(code).toBe(130);
  expect(stderr).toContain('Interrupted: finishing the current step and saving a checkpoint');
  expect(stderr).toMatch(/Interrupted after \d+ steps; checkpoint written to .*step_\d+\. Run directory: .*interrupted\. Continue with the same command plus --resume/);
  expect(stderr).not.toMatch(/\n\s+at /);

  const run = join(directory, 'runs', 'interrupted');
  const [checkpoint] = readdirSync(join(run, 'checkpoints'));
  expect(checkpoint).toMatch(/^step_\d+$/);
  const summary = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8'));
  expect(summary).toMatchObject({ status: 'interrupted', checkpoint: join(run, 'checkpoints', checkpoint) });
  const stepsBefore = summary.steps as number;
  expect(stepsBefore).toBeLessThan(400);

  // What a kill during the final saveSae or a summary write leaves behind; the resume removes it.
  mkdirSync(join(run, 'sae'));
  const stale = [join(run, 'sae', '.sae_weights.safetensors.0123456789ab.tmp'), join(run, '.summary.json.ba9876543210.tmp')];
  for (const file of stale) writeFileSync(file, 'half a file');
  // What the message says: the same command plus --resume <the checkpoint it names> (with fewer tokens, so the test stays short).
  // eval_tokens 1 takes one whole row of seq_len 32; the message says what is evaluated.
  const named = /Continue with the same command plus --resume (\S+)\.\n/.exec(stderr)?.[1];
  expect(named).toBe(join(run, 'checkpoints', checkpoint));
  const resumed = await runCaptured(['train', '--config', configFile, '--set', `num_tokens=${64 * (stepsBefore + 3)}`, '--set', 'eval_tokens=1', '--resume', named!]);
  expect(resumed.code).toBe(0);
  expect(resumed.stderr).toContain('Evaluating on 32 held-out tokens ...');
  expect(JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8'))).toMatchObject({ status: 'completed', steps: stepsBefore + 3 });
  expect(existsSync(join(run, 'checkpoints', `step_${stepsBefore + 3}`))).toBe(true);
  expect(stale.filter((file) => existsSync(file))).toEqual([]);
  expect(resumed.stderr).toContain(`Removed 2 temporary file(s) a killed run left in ${run}.`);
});

it('a second nnd train of a run name in use, or a --resume of it, is refused before it moves or writes anything', async () => {
  const run = join(directory, 'runs', 'interrupted');
  const summary = readFileSync(join(run, 'summary.json'), 'utf8');
  // This process stands for the nnd train that is running.
  const lock = lockRunDirectory(run);
  const before = readdirSync(join(directory, 'runs')).sort();
  try {
    for (const extra of [[], ['--resume', run]]) {
      const second = await runCaptured(['train', '--config', configFile, ...extra]);
      expect(second.code).toBe(1);
      expect(second.stderr).toBe(
        `nnd: ${run} is in use by another nnd process (pid ${process.pid} on ${hostname()}, since ${lock.holder.since}: ${lock.holder.command}). ` +
          'Two writers would mix their metrics and checkpoints: wait for it to finish, stop it (Ctrl-C saves a checkpoint), or choose another run name.\n',
      );
      expect(readdirSync(join(directory, 'runs')).sort()).toEqual(before);
      expect(readFileSync(join(run, 'summary.json'), 'utf8')).toBe(summary);
    }
  } finally {
    lock.release();
  }
});

it.each([
  ['SIGTERM', 143],
  ['SIGHUP', 129],
] as const)('%s (a scheduler preempting, a terminal closing) saves the run like Ctrl-C and exits with %i', async (signal, exitCode) => {
  const name = `preempted-${signal}`;
  const { code, stderr } = await trainUntilInterrupted(name, (child) => child.kill(signal));
  expect(code).toBe(exitCode);
  expect(stderr).toContain(`Interrupted by ${signal}: finishing the current step and saving a checkpoint (send ${signal} again to quit at once)`);
  const run = join(directory, 'runs', name);
  const [checkpoint] = readdirSync(join(run, 'checkpoints'));
  expect(checkpoint).toMatch(/^step_\d+$/);
  expect(JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8'))).toMatchObject({ status: 'interrupted', checkpoint: join(run, 'checkpoints', checkpoint) });
});

it("kill -9 of the command's process group leaves no nnd process running", async () => {
  let runningBefore = 0;
  const { code } = await trainUntilInterrupted('killed', (child) => {
    runningBefore = trainersOf(configFile).length;
    process.kill(-child.pid!, 'SIGKILL');
  });
  expect(code).toBe(null);
  // The command and the trainer it relaunched.
  expect(runningBefore).toBe(2);
  // The relaunched trainer is the process whose command line names this test's config; it must be gone (or a zombie) soon.
  const deadline = Date.now() + 10_000;
  let survivors = trainersOf(configFile);
  while (survivors.length > 0 && Date.now() < deadline) {
    await sleep(100);
    survivors = trainersOf(configFile);
  }
  for (const pid of survivors) process.kill(pid, 'SIGKILL');
  expect(survivors).toEqual([]);
});

/** Live processes (not zombies) whose command line contains `text`. */
function trainersOf(text: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text) && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    });
}
