import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configKeyTypes } from './config-help.js';
import { RUN_CONFIG_KEYS } from './run-config.js';
import { runCaptured } from './cli-capture.test-support.js';
import { COMMANDS } from './run-cli.js';

describe('nnd --help', () => {
  it('lists every command and exits 0', async () => {
    const { code, stdout } = await runCaptured(['--help']);
    expect(code).toBe(0);
    for (const command of COMMANDS) expect(stdout).toContain(`  ${command.name}`);
    expect(stdout).toContain('130 interrupted');
  });

  it.each(COMMANDS.map((command) => command.name))('nnd %s --help prints its usage and exits 0', async (name) => {
    const { code, stdout, stderr } = await runCaptured([name, '--help']);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toMatch(new RegExp(`^Usage: nnd ${name}`));
    expect(stdout).toContain('-h, --help');
  });

  it('nnd train --help lists every config key with the reference default', async () => {
    const { stdout } = await runCaptured(['train', '-h']);
    for (const line of ['seed: 49', 'batch_size: 4096', 'lr: 0.0003', 'dict_size: 12288', 'top_k: 32', 'hook_point: blocks.8.hook_resid_pre', 'run_dir: runs/']) {
      expect(stdout).toContain(line);
    }
  });
});

describe('nnd --version', () => {
  it('prints the version of @nnd/cli and exits 0', async () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const { code, stdout } = await runCaptured([flag]);
      expect(code).toBe(0);
      expect(stdout).toBe(`${manifest.version}\n`);
    }
  });
});

describe('nnd train --help: every config key with its type and what it does', () => {
  it('has one line per schema key: default, type from the schema, description', async () => {
    const { stdout } = await runCaptured(['train', '--help']);
    const types = configKeyTypes();
    for (const key of RUN_CONFIG_KEYS) {
      const line = stdout.split('\n').find((candidate) => candidate.startsWith(`  ${key}:`) || candidate.startsWith(`  # ${key}:`));
      expect(line, key).toBeDefined();
      expect(line, key).toContain(`# ${types[key as keyof typeof types]}: `);
      expect(line!.slice(line!.indexOf(`# ${types[key as keyof typeof types]}: `) + types[key as keyof typeof types].length + 4).trim().length, key).toBeGreaterThan(10);
    }
    expect(stdout).toContain('  lr: 0.0003');
    expect(stdout).toMatch(/ {2}lr: 0\.0003 +# number > 0: Adam learning rate/);
    expect(stdout).toMatch(/ {2}device: cpu +# cpu \| webgpu \| cuda: /);
    expect(stdout).toMatch(/ {2}sae_type: topk +# vanilla \| topk \| batchtopk \| jumprelu or list of \(vanilla \| topk \| batchtopk \| jumprelu\): /);
    expect(stdout).toMatch(/ {2}beta1: 0\.9 +# number in \[0, 1\): /);
    expect(stdout).toMatch(/ {2}seq_len: 128 +# integer >= 1: /);
  });
});

describe('command-line errors exit 1 with a message, no stack trace', () => {
  it('no command prints the help to stderr', async () => {
    const { code, stderr } = await runCaptured([]);
    expect(code).toBe(1);
    expect(stderr).toContain('Usage: nnd <command>');
  });

  it('an unknown command names the commands', async () => {
    const { code, stderr } = await runCaptured(['trian']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^nnd: unknown command 'trian'; the commands are train, cache, eval, dashboard, sweep, report, compare, wandb-sync/);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('an unknown option points at --help', async () => {
    const { code, stderr } = await runCaptured(['train', '--learning-rate', '3']);
    expect(code).toBe(1);
    expect(stderr).toContain('--learning-rate');
    expect(stderr).toContain("Run 'nnd train --help'");
  });

  it('a missing argument says what is expected', async () => {
    expect((await runCaptured(['eval'])).stderr).toContain('nnd eval takes one checkpoint or run directory, got 0');
    expect((await runCaptured(['report'])).stderr).toContain('needs at least one run directory');
    expect((await runCaptured(['sweep'])).code).toBe(1);
    expect((await runCaptured(['wandb-sync'])).code).toBe(1);
    expect((await runCaptured(['eval', 'x', '--tokens', '0'])).stderr).toContain('--tokens is "0"; allowed: a positive integer');
  });
});
