export { saeRegistry, createSae } from './sae-registry.js';
export { vanillaSae } from './vanilla-sae.js';
export { topKSae } from './topk-sae.js';
export { batchTopKSae } from './batchtopk-sae.js';
export { jumpReluSae } from './jumprelu-sae.js';
export {
  SAE_ARCHITECTURES, batchTopKConfigSchema, jumpReluConfigSchema, topKConfigSchema, vanillaConfigSchema,
} from './sae-config.js';
export type {
  BatchTopKSaeConfig, BatchTopKSaeConfigInput, JumpReluSaeConfig, JumpReluSaeConfigInput, SaeArchitecture, SaeConfig,
  TopKSaeConfig, TopKSaeConfigInput, VanillaSaeConfig, VanillaSaeConfigInput,
} from './sae-config.js';
export { DEFAULT_SAE_HOOK } from './sparse-autoencoder.js';
export type { SaeInference, SparseAutoencoder } from './sparse-autoencoder.js';
export { loadSae, saveSae, SAE_CONFIG_FILE, SAE_STATE_FILE, SAE_WEIGHTS_FILE } from './sae-files.js';
export type { LoadedSae } from './sae-files.js';
export { SaeFileError } from './sae-file-error.js';
export { NO_DEAD_FEATURES } from './topk-forward.js';

// Building blocks for other decomposition packages (@nnd/clt: cross-layer transcoders). Each is one rule of the
// reference's SAEs, written once here and reused there rather than copied; SAE users do not need them.
export { auxiliaryLoss } from './auxiliary-loss.js';
export type { AuxiliaryLossInputs } from './auxiliary-loss.js';
export { updateDeadFeatures } from './dead-features.js';
export type { DeadFeatureUpdate } from './dead-features.js';
export { unitNormRows } from './decoder-constraint.js';
export { jumpRelu, thresholdStep } from './jumprelu-estimators.js';
export { denseActivations, keepTopKOfBatch, keepTopKPerSample, keptFeatureTotals, keptNorms } from './kept-activations.js';
export type { KeptActivations } from './kept-activations.js';
export { denseNorms, l2Loss } from './reconstruction-metrics.js';
export { scatterAddRows } from './sparse-decoder.js';
export { formatConfigIssue } from './sae-config.js';
