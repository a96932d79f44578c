import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vm from 'node:vm';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from './cli-capture.test-support.js';
import { featureRange } from './dashboard-command.js';
import { EXIT_CODES } from './exit-codes.js';
import { tinyShapedConfig, writeRandomLanguageModel } from './language-model.test-support.js';

/** `nnd dashboard` on a run that `nnd train` just wrote (a random LM, a few steps: the page's content is not the point here). */
let directory: string;
let run: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-dashboard-command-'));
  const model = await writeRandomLanguageModel(join(directory, 'lm'), tinyShapedConfig(2, 32));
  const configFile = join(directory, 'config.yaml');
  await writeFile(
    configFile,
    stringify({
      model_name: model,
      name: 'dash',
      layer: 1,
      act_size: 32,
      dict_size: 64,
      top_k: 4,
      top_k_aux: 16,
      dataset_path: 'sotu',
      run_dir: join(directory, 'runs'),
      document_token_limit: 'none',
      seq_len: 32,
      batch_size: 256,
      num_tokens: 256 * 4,
      model_batch_size: 4,
      num_batches_in_buffer: 2,
      perf_log_freq: 100,
      eval_tokens: 128,
    }),
  );
  const { code, stderr } = await runCaptured(['train', '--config', configFile]);
  expect(code, stderr).toBe(0);
  run = join(directory, 'runs', 'dash');
}, 120_000);
afterAll(() => rm(directory, { recursive: true, force: true }));

function dataFile(file: string): any {
  let payload: unknown;
  vm.runInNewContext(readFileSync(file, 'utf8'), { nndDashboardData: (_name: string, value: unknown) => (payload = value) });
  return payload;
}

describe('nnd dashboard', () => {
  it("writes the run's dashboard folder for a feature range over held-out tokens", async () => {
    const { code, stdout, stderr } = await runCaptured(['dashboard', run, '--tokens', '1024', '--features', '8-23']);
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/Collecting feature dashboards of .* over 1024 tokens of sotu/);
    const out = join(run, 'dashboard');
    expect(stdout).toContain(join(out, 'index.html'));
    expect(stdout).toMatch(/features 8-23 of 64 \(\d+ fired\) over 1024 tokens/);
    const features = dataFile(join(out, 'data', 'features.js'));
    expect(features).toMatchObject({ architecture: 'topk', featureCount: 64, range: { start: 8, end: 24 }, tokens: 1024 });
    expect(features.feature).toEqual(Array.from({ length: 16 }, (_, index) => 8 + index));
    // At most k = 4 features fire per token, so the densities of any 16 sum to at most 4.
    const densities = features.density.reduce((sum: number, value: number) => sum + value, 0);
    expect(densities).toBeGreaterThan(0);
    expect(densities).toBeLessThanOrEqual(4 + 1e-3);
    const chunk = dataFile(join(out, 'data', 'chunk-0.js'));
    const fired = Object.values<any>(chunk).find((feature) => feature.top.length > 0);
    expect(fired.top[0].tokens.length).toBeGreaterThan(1);
    // Token texts decoded by the model's tokenizer.
    expect(Object.values(dataFile(join(out, 'data', 'tokens.js')).text).some((text) => typeof text === 'string' && !String(text).startsWith('#'))).toBe(true);
  }, 120_000);

  it('refuses a feature range outside the decomposition, and a malformed one', async () => {
    const outside = await runCaptured(['dashboard', run, '--tokens', '64', '--features', '64-70', '--out', join(directory, 'never')]);
    expect(outside.code).toBe(EXIT_CODES.userError);
    expect(outside.stderr).toContain('has 64 features (0-63)');
    expect(existsSync(join(directory, 'never'))).toBe(false);
    expect(() => featureRange('9-3')).toThrow(/--features is "9-3"; allowed: A-B/);
    expect(featureRange('5')).toEqual({ start: 5, end: 6 });
    expect(featureRange('0-255')).toEqual({ start: 0, end: 256 });
  }, 60_000);
});
