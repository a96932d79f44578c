import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HookedTransformer } from '@nnd/models';
import { createReferenceBackend } from '@nnd/core';
import { loadSpd, SpdModelError, transformerTarget } from '@nnd/spd';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from './cli-capture.test-support.js';
import { tinyLanguageModelPresent, writeRandomLanguageModel } from './language-model.test-support.js';
import { modelLocation } from './model-source.js';
import { parseRunConfig } from './run-config.js';

/** `decomposition: spd`: token batches through the frozen model, the family's folder and its evaluation. */
let directory: string;
let configFile: string;
let runs: string;
let modelName: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-cli-spd-'));
  runs = join(directory, 'runs');
  modelName = tinyLanguageModelPresent() ? 'tiny-lm' : await writeRandomLanguageModel(join(directory, 'lm'));
  configFile = join(directory, 'config.yaml');
  await writeFile(
    configFile,
    stringify({
      decomposition: 'spd',
      spd_modules: 'blocks.1.mlp.W_in,blocks.1.mlp.W_out',
      C: 16,
      model_name: modelName,
      dataset_path: 'sotu',
      seq_len: 32,
      batch_size: 4,
      num_tokens: 12,
      checkpoint_freq: 2,
      eval_tokens: 128,
      run_dir: runs,
      name: 'spd',
      lr_schedule: 'cosine',
      lr_final_frac: 0.1,
      stochastic_recon_subset_coeff: 0.5,
      dashboard_features: 4,
    }),
  );
});
afterAll(() => rm(directory, { recursive: true, force: true }));

describe('nnd train with decomposition: spd', () => {
  it("trains through the model, saves V, U and the CI functions with the model's sha256, and prints spd's evaluation", async () => {
    const { code, stdout, stderr } = await runCaptured(['train', '--config', configFile]);
    expect(stderr).toContain('step 3/3 (100.0%)');
    expect(code).toBe(0);
    const run = join(runs, 'spd');
    expect(stdout).toContain(`Trained:       ${join(run, 'spd')}`);
    for (const line of ['kl_ci:', 'kl_unmasked:', 'kl_stochastic:', 'kl_random:', 'kl_rounded_0:', 'kl_rounded_0.5:', 'kl_zero:', 'ce_unrecovered_ci:']) expect(stdout).toContain(line);
    const summary = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')) as Record<string, number>;
    expect(summary['alive_0.1.blocks.1.mlp.W_in']).toBeGreaterThanOrEqual(0);
    expect(summary['ci_l0_0.5.blocks.1.mlp.W_out']).toBeGreaterThanOrEqual(0);
    expect(existsSync(join(run, 'checkpoints', 'step_2', 'components.safetensors'))).toBe(true);

    const model = await HookedTransformer.fromPretrained(modelLocation(modelName), { backend: createReferenceBackend() });
    const loaded = await loadSpd(join(run, 'spd'), transformerTarget(model, 32, modelName));
    expect(loaded.spd.modules.map(({ name, C }) => `${name}:${C}`)).toEqual(['blocks.1.mlp.W_in:16', 'blocks.1.mlp.W_out:16']);
    expect(loaded.params['blocks.1.mlp.W_in.V'].shape).toEqual([model.config.hiddenSize, 16]);
    // The same folder against a model whose weights changed is refused.
    const changed = new HookedTransformer(
      model.config,
      new Map(
        model.parameterNames.map((name) => {
          const tensor = model.parameter(name);
          return [name, name === 'blocks.1.mlp.b_in' ? { ...tensor, data: (tensor.data as Float32Array).map((value) => value + 1) } : tensor];
        }),
      ) as never,
      { backend: createReferenceBackend() },
    );
    await expect(loadSpd(join(run, 'spd'), transformerTarget(changed, 32, modelName))).rejects.toThrow(SpdModelError);
  }, 300_000);

  it('writes the report with the evaluation; nnd eval of the run gives the same evaluation again; nnd report shows it', async () => {
    const run = join(runs, 'spd');
    const summary = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')) as Record<string, unknown>;
    // The CI histograms and component densities, per module, in the summary.
    expect(summary['ci_histogram.blocks.1.mlp.W_in']).toHaveLength(50);
    expect((summary['ci_histogram.blocks.1.mlp.W_in'] as number[]).reduce((a, b) => a + b, 0)).toBe(128 * 16);
    expect(summary['component_density.blocks.1.mlp.W_out']).toHaveLength(16);
    const report = readFileSync(join(run, 'report.html'), 'utf8');
    expect(report).toContain('<section id="components">');
    expect(report).toContain('<tr><th scope="row"><code>ci</code></th>');
    expect(report).toContain('id="plot-run-0-ci-histograms"');
    expect(report).toContain('id="plot-run-0-component-density"');
    // Training curves of SPD's own losses, beside the total.
    const curves = report.slice(report.indexOf('<section id="training">'), report.indexOf('<section id="metrics">'));
    expect(curves).toContain('stochastic_recon_subset_loss');
    expect(curves).toContain('importance_minimality_loss');

    const evaluated = await runCaptured(['eval', run]);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    expect(evaluated.stdout).toContain('kl_ci:');
    const checkpoint = join(run, 'checkpoints', 'step_3');
    expect(evaluated.stdout).toContain(`Written: ${join(checkpoint, 'evaluation.json')}`);
    const evaluation = JSON.parse(readFileSync(join(checkpoint, 'evaluation.json'), 'utf8')) as Record<string, unknown>;
    // The same held-out tokens (from where the run's evaluation started), the same batches and the same mask draws.
    const { step, ...again } = evaluation;
    expect(step).toBe(3);
    expect(Object.keys(again)).toEqual(
      expect.arrayContaining(['kl_ci', 'ce_unrecovered_zero', 'alive_0.5.blocks.1.mlp.W_in', 'ci_histogram.blocks.1.mlp.W_out', 'component_density.blocks.1.mlp.W_in']),
    );
    expect(summary).toMatchObject(again);

    const reported = await runCaptured(['report', run, '--out', join(directory, 'report.html')]);
    expect(reported.code, reported.stderr).toBe(0);
    const standalone = readFileSync(join(directory, 'report.html'), 'utf8');
    expect(standalone).toContain('<h2>Components</h2>');
    // dashboard_features: the training job wrote a dashboard of the first components, linked from the run's report.
    expect(report).toContain('<a href="dashboard/index.html">Component dashboard</a>');
    const trained = readFileSync(join(run, 'dashboard', 'data', 'features.js'), 'utf8');
    expect(trained).toContain('"valueLabel":"causal importance"');
    expect(trained).toContain('"name":["blocks.1.mlp.W_in:0","blocks.1.mlp.W_in:1","blocks.1.mlp.W_in:2","blocks.1.mlp.W_in:3"]');
    // No empty panels about features' L0, explained variance or densities, which an SPD run does not measure.
    expect(standalone).not.toContain('<section id="sweeps">');
    expect(standalone).not.toContain('<section id="feature-density">');
    // The same curves as the run's own report: SPD's losses, from what the run logged.
    const standaloneCurves = standalone.slice(standalone.indexOf('<section id="training">'), standalone.indexOf('<section id="metrics">'));
    const titles = (html: string) => [...new Set([...html.matchAll(/<text[^>]*>([a-z_/]+_loss|loss)(?: \(log scale\))?<\/text>/g)].map((match) => match[1]))];
    expect(titles(standaloneCurves)).toEqual(titles(curves));
    expect(titles(standaloneCurves)).toEqual(['loss', 'stochastic_recon_loss', 'stochastic_recon_layerwise_loss', 'stochastic_recon_subset_loss', 'importance_minimality_loss']);
  }, 300_000);

  it('nnd dashboard of the run shows every component of both matrices, by its causal importance; --features counts across the matrices', async () => {
    const run = join(runs, 'spd');
    const out = join(directory, 'spd-dashboard');
    const { code, stdout, stderr } = await runCaptured(['dashboard', run, '--tokens', '256', '--features', '14-17', '--out', out]);
    expect(code, stderr).toBe(0);
    expect(stdout).toContain(`${join(out, 'index.html')}\n  features 14-17 of 32 (`);
    expect(stdout).toContain('over 256 tokens');
    const features = readFileSync(join(out, 'data', 'features.js'), 'utf8');
    expect(features).toContain('"valueLabel":"causal importance"');
    expect(features).toContain('"name":["blocks.1.mlp.W_in:14","blocks.1.mlp.W_in:15","blocks.1.mlp.W_out:0","blocks.1.mlp.W_out:1"]');
    expect(features).toContain('"feature":[14,15,16,17]');
    // Every shown value is a causal importance, within [0, 1].
    const chunk = readFileSync(join(out, 'data', 'chunk-0.js'), 'utf8');
    const payload = JSON.parse(chunk.slice(chunk.indexOf(',') + 1, chunk.lastIndexOf(')'))) as Record<string, { top: { values: number[] }[] }>;
    const values = Object.values(payload).flatMap(({ top }) => top.flatMap((example) => example.values));
    expect(values.length).toBeGreaterThan(0);
    expect(values.every((value) => value >= 0 && value <= 1)).toBe(true);
  }, 300_000);

  it('nnd eval of a bare spd/ folder loads the model its config.json names, --model overrides it, and a model with other weights is refused', async () => {
    const folder = join(runs, 'spd', 'spd');
    const evaluated = await runCaptured(['eval', folder, '--tokens', '64']);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    expect(evaluated.stderr).toContain('on 64 tokens of sotu');
    expect(evaluated.stdout).toContain(`${folder} (spd)\n`);
    expect(evaluated.stdout).toContain('kl_ci:');
    const evaluation = JSON.parse(readFileSync(join(folder, 'evaluation.json'), 'utf8')) as Record<string, unknown>;
    expect(evaluation.evaluation_start).toEqual({ epoch: 0, document: 0, token: 0 });
    expect((evaluation['ci_histogram.blocks.1.mlp.W_in'] as number[]).reduce((a, b) => a + b, 0)).toBe(64 * 16);
    // The same tokens and model by --model give the same evaluation.
    const again = await runCaptured(['eval', folder, '--tokens', '64', '--model', modelName]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(folder, 'evaluation.json'), 'utf8'))).toEqual(evaluation);

    const other = await writeRandomLanguageModel(join(directory, 'other-lm'), undefined, 7);
    const refused = await runCaptured(['eval', folder, '--tokens', '64', '--model', other]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/whose weights have sha256 [0-9a-f]{64}, but the model given .* has [0-9a-f]{64}; its weights changed/);
  }, 300_000);

  it("names the run after its matrices and C, without an SAE's dictionary keys", () => {
    const config = parseRunConfig({ decomposition: 'spd', model_name: 'tiny-lm', spd_modules: 'blocks.0.mlp.W_in,blocks.1.mlp.W_out', C: 64 });
    expect(config.name).toBe('tiny-lm_blocks.0.mlp.W_in+blocks.1.mlp.W_out_C64_spd_0.0003');
    expect(parseRunConfig({ decomposition: 'spd', model_name: 'tiny-lm' }).name).toBe('tiny-lm_mlp_C256_spd_0.0003');
  });

  it('names a module that is not a matrix of the model, with the matrices it has, and refuses C < 1', async () => {
    const { code, stderr } = await runCaptured(['train', '--config', configFile, '--set', 'spd_modules=blocks.1.mlp.W_up', '--set', `run_dir=${join(directory, 'bad')}`]);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(
      /spd_modules names 'blocks.1.mlp.W_up', which is neither mlp, attn, all nor a weight matrix of \S+ \(blocks.\{0-\d\}.\{attn.W_Q, attn.W_K, attn.W_V, attn.W_O, mlp.W_in, mlp.W_out\}\)/,
    );
    const zero = await runCaptured(['train', '--config', configFile, '--set', 'C=0', '--set', `run_dir=${join(directory, 'bad')}`]);
    expect(zero.code).toBe(1);
    expect(zero.stderr).toContain("'C' is 0; allowed: an integer >= 1");
  });
});
