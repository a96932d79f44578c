/**
 * Trains the tied-weights SAE of tied-sae.ts on the tiny LM that ships with
 * nnd, with nnd's own activation store, trainer, logger, evaluation and
 * report: none of them knows this decomposition exists.
 *
 *   pnpm --filter @nnd/example-custom-decomposition start
 */
import { ActivationsStore, hookedTransformerActivations, openDataset, TokenPacker } from '@nnd/activations';
import { createOnnxBackend } from '@nnd/backend-onnx';
import { createLogger } from '@nnd/logging';
import { HookedTransformer, tinyLanguageModelDirectory } from '@nnd/models';
import { loadRuns, writeReport } from '@nnd/results';
import { evaluateDecomposition, trainDecomposition } from '@nnd/train';
import { join } from 'node:path';
import { tiedSae } from './tied-sae.js';

const hookPoint = 'blocks.2.hook_resid_pre';
const saeConfig = { hook_point: hookPoint, act_size: 128, dict_size: 2048, l1_coeff: 1e-2 };
const trainConfig = { lr: 3e-4, batch_size: 4096, num_tokens: 4096 * 150, seed: 49 };
// What the run directory records: the reports read sae_type, dict_size and the training keys from it.
const config = { name: 'tiny-lm_blocks.2.hook_resid_pre_2048_tied', model_name: 'tiny-lm', sae_type: 'tied', ...saeConfig, ...trainConfig };

const backend = createOnnxBackend();
const model = await HookedTransformer.fromPretrained(tinyLanguageModelDirectory(), { backend, modelBatchSize: 32 });
const activations = hookedTransformerActivations(model, { name: 'tiny-lm' });
const dataset = await openDataset('sotu');
const packing = { sequenceLength: 128, documentTokenLimit: Infinity, keepRemainder: true };
const store = new ActivationsStore({
  model: activations,
  dataset,
  hookPoint,
  ...packing,
  modelBatchSize: 32,
  batchesInBuffer: 16,
  batchSize: trainConfig.batch_size,
  seed: trainConfig.seed,
  repeatDataset: true,
});

const sae = tiedSae.create(tiedSae.parseConfig(saeConfig));
const logger = createLogger({ runsDirectory: 'runs' });
await logger.init(config);
const result = await trainDecomposition(sae, store, trainConfig, { backend, logger, checkpointDir: join(logger.runDirectory, 'checkpoints') });

// Evaluation on tokens from the end of the corpus (the last addresses), which training did not reach.
const packer = new TokenPacker(dataset, activations.tokenizer, { rows: 32, ...packing, prependBos: true, repeat: false }, { epoch: 0, document: 220, token: 0 });
const tokenBatches = [await packer.next(), await packer.next()].filter((batch) => batch !== undefined);
const evaluation = await evaluateDecomposition({ model, decomposition: sae, params: result.params, state: result.state, tokenBatches, backend });
await logger.finish({ ...evaluation, status: result.status });
const report = await writeReport(await loadRuns([{ type: 'directory', directory: logger.runDirectory }]), join(logger.runDirectory, 'report.html'));

console.log(`\nRun directory: ${logger.runDirectory}\nReport: ${report}`);
console.log(`L0 ${evaluation.l0_norm.toFixed(1)}, explained variance ${evaluation.explained_variance.toFixed(4)}, CE degradation ${evaluation['performance/ce_degradation'].toFixed(4)}`);
await model.dispose();
await backend.dispose();
