/**
 * Decomposes both MLP matrices of every layer of the tiny LM that ships with
 * nnd (blocks.{0..3}.mlp.W_in [128, 512] and W_out [512, 128]) by SPD,
 * trained through the frozen model on the `sotu` corpus, then evaluates it
 * with spd's metrics on held-out tokens and writes report.md beside the run.
 *
 *   pnpm --filter @nnd/example-spd-tiny-lm start            # SPD_STEPS=... to change the length
 */
import { openDataset, TokenPacker } from '@nnd/activations';
import { createOnnxBackend } from '@nnd/backend-onnx';
import { createLogger } from '@nnd/logging';
import { HookedTransformer, tinyLanguageModelDirectory } from '@nnd/models';
import { createSpd, evaluateSpd, expandModules, saveSpd, transformerTarget } from '@nnd/spd';
import { trainDecomposition } from '@nnd/train';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const steps = Number(process.env.SPD_STEPS ?? 400);
const seq = 64;
const batch = 8;
const C = 128;
const started = Date.now();

const backend = createOnnxBackend();
const model = await HookedTransformer.fromPretrained(tinyLanguageModelDirectory(), { backend });
const target = transformerTarget(model, seq, 'tiny-lm');
// spd's GPT-2 settings (DECOMPOSITIONS.md 5b, exp_004), scaled to the tiny model and a short run.
const spdConfig = {
  modules: expandModules(target, 'mlp').map((name) => ({ name, C })),
  ci_fn_type: 'mlp' as const,
  ci_fn_hidden_dims: [16],
  stochastic_recon_coeff: 0,
  stochastic_recon_layerwise_coeff: 0,
  stochastic_recon_subset_coeff: 0.5,
  importance_minimality_coeff: 1e-4,
  pnorm: 2,
  p_anneal_final_p: 0.3,
  p_anneal_start_frac: 0.25,
  p_anneal_end_frac: 0.75,
  faithfulness_coeff: 1e4,
  faithfulness_warmup_steps: 100,
  faithfulness_warmup_lr: 1e-2,
  faithfulness_warmup_weight_decay: 0.1,
  grad_clip_norm_components: 1,
};
const trainConfig = { num_tokens: steps * batch, batch_size: batch, lr: 3e-3, lr_schedule: 'cosine' as const, lr_warmup_frac: 0.01, lr_final_frac: 0.1, beta2: 0.999, seed: 0 };
const spd = createSpd(target, spdConfig);

const dataset = await openDataset('sotu');
const packing = { sequenceLength: seq, documentTokenLimit: Infinity, keepRemainder: true, prependBos: true, repeat: true };
const packer = new TokenPacker(dataset, model.tokenizer, { rows: batch, ...packing });
const source = {
  async nextBatch() {
    const tokens = await packer.next();
    if (tokens === undefined) throw new Error('the sotu corpus gave no more tokens');
    return { tokens: tokens.data as BigInt64Array };
  },
};

const logger = createLogger({ runsDirectory: 'runs', name: 'spd-tiny-lm' });
await logger.init({ name: 'spd-tiny-lm', model_name: 'tiny-lm', decomposition: 'spd', ...spdConfig, modules: spd.modules.map(({ name }) => name).join(','), C, seq_len: seq, ...trainConfig });
const result = await trainDecomposition(spd, source, trainConfig, { backend, logger, checkpointDir: join(logger.runDirectory, 'checkpoints') });
await saveSpd(join(logger.runDirectory, 'spd'), spd, result.params, { model_name: 'tiny-lm', dataset_path: 'sotu', context_size: seq });

// Held-out tokens: from the end of the corpus, which 400 steps of 8 x 64 tokens do not reach.
const heldOut = new TokenPacker(dataset, model.tokenizer, { rows: 16, ...packing, repeat: false }, { epoch: 0, document: 220, token: 0 });
const batches = [await heldOut.next(), await heldOut.next()].filter((tokens) => tokens !== undefined).map((tokens) => ({ tokens: tokens! }));
const metrics = await evaluateSpd(spd, result.params, batches, { backend });
// The scalars; the CI histograms and component densities (arrays) go to summary.json with them.
const scalar = (name: string) => metrics[name] as number;
await logger.finish({ status: 'completed', steps: result.step, ...metrics });

const minutes = (Date.now() - started) / 60_000;
const masks = ['ci', 'unmasked', 'stochastic', 'random', 'rounded_0', 'rounded_0.5', 'zero'];
const lines = [
  "# SPD of the tiny LM's MLPs",
  '',
  `${spd.modules.length} matrices (${spd.modules.map(({ name }) => name).join(', ')}), C = ${C} each; ${result.step} steps of ${batch} x ${seq} tokens from sotu; ${minutes.toFixed(1)} min.`,
  '',
  `Model's held-out next-token cross-entropy: ${scalar('ce_target').toFixed(4)} nats.`,
  '',
  '| mask | KL to the model | CE difference | CE unrecovered |',
  '|---|---|---|---|',
  ...masks.map((mask) => `| ${mask} | ${scalar(`kl_${mask}`).toFixed(4)} | ${scalar(`ce_diff_${mask}`).toFixed(4)} | ${scalar(`ce_unrecovered_${mask}`).toFixed(4)} |`),
  '',
  '| module | CI-L0 (> 0) | CI-L0 (> 0.1) | CI-L0 (> 0.5) | alive (> 0.01) | alive (> 0.1) | alive (> 0.5) |',
  '|---|---|---|---|---|---|---|',
  ...spd.modules.map(
    ({ name }) =>
      `| ${name} | ${scalar(`ci_l0_0.${name}`).toFixed(2)} | ${scalar(`ci_l0_0.1.${name}`).toFixed(2)} | ${scalar(`ci_l0_0.5.${name}`).toFixed(2)} | ${metrics[`alive_0.01.${name}`]} | ${metrics[`alive_0.1.${name}`]} | ${metrics[`alive_0.5.${name}`]} |`,
  ),
  '',
  `Last training step: ${Object.entries(result.metrics ?? {})
    .filter(([name]) => name.endsWith('_loss'))
    .map(([name, value]) => `${name} ${value.toPrecision(4)}`)
    .join(', ')}.`,
  '',
];
await writeFile(join(logger.runDirectory, 'report.md'), lines.join('\n'));
console.log(lines.join('\n'));
console.log(`Run directory: ${logger.runDirectory}`);
