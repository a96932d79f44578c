export { saeRegistry, createSae } from './sae-registry.js';
export { vanillaSae } from './vanilla-sae.js';
export { topKSae } from './topk-sae.js';
export { batchTopKSae } from './batchtopk-sae.js';
export { jumpReluSae } from './jumprelu-sae.js';
export {
  SAE_ARCHITECTURES,
  batchTopKConfigSchema,
  jumpReluConfigSchema,
  topKConfigSchema,
  vanillaConfigSchema,
} from './sae-config.js';
export type {
  BatchTopKSaeConfig,
  BatchTopKSaeConfigInput,
  JumpReluSaeConfig,
  JumpReluSaeConfigInput,
  SaeArchitecture,
  SaeConfig,
  TopKSaeConfig,
  TopKSaeConfigInput,
  VanillaSaeConfig,
  VanillaSaeConfigInput,
} from './sae-config.js';
export { DEFAULT_SAE_HOOK } from './sparse-autoencoder.js';
export type { SaeInference, SparseAutoencoder } from './sparse-autoencoder.js';
export { loadSae, saveSae, SAE_CONFIG_FILE, SAE_STATE_FILE, SAE_WEIGHTS_FILE } from './sae-files.js';
export type { LoadedSae } from './sae-files.js';
export { SaeFileError } from './sae-file-error.js';
export { NO_DEAD_FEATURES } from './topk-forward.js';
export { saeFamily, saeTypesOf } from './sae-family.js';
// Building blocks, for decompositions built from the same rules (@nnd/transcoders, @nnd/clt):
// each is one rule of the reference's SAEs, documented where it is defined.
export { auxiliaryLoss } from './auxiliary-loss.js';
export type { AuxiliaryLossInputs } from './auxiliary-loss.js';
export { centeredEncoder } from './centered-encoder.js';
export type { CenteredEncoding } from './centered-encoder.js';
export { updateDeadFeatures } from './dead-features.js';
export type { DeadFeatureUpdate } from './dead-features.js';
export { constrainDecoder, unitNormRows } from './decoder-constraint.js';
export { initialDeadFeatureState } from './initial-parameters.js';
export { INPUT_NORM_EPSILON, normalizeInput } from './input-normalization.js';
export type { NormalizedInput } from './input-normalization.js';
export { jumpRelu, thresholdStep } from './jumprelu-estimators.js';
export { denseActivations, keepTopKOfBatch, keepTopKPerSample, keptFeatureTotals, keptNorms, keptPairs, keptPairsShaped } from './kept-activations.js';
export type { KeptActivations } from './kept-activations.js';
export { denseNorms, l2Loss } from './reconstruction-metrics.js';
export { scatterAddRows, sparseDecode } from './sparse-decoder.js';
export { withSparseEncoderGradient } from './sparse-encoder-gradient.js';
export type { EncoderOperands } from './sparse-encoder-gradient.js';
export { largestCounter, topKVariants } from './topk-forward.js';
export { updateRunningThreshold } from './batchtopk-sae.js';
export { formatConfigIssue, formatConfigIssues } from './sae-config.js';
export {
  checkTopKWithinDictSize,
  ENCODER_ALLOWED,
  encoderRunConfigShape,
  encoderTrainingShape,
  jumpReluEncoderShape,
  topKEncoderShape,
} from './encoder-config.js';
