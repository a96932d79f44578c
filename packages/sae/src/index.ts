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
export { saeFamily, saeTypesOf } from './sae-family.js';
