export { createTranscoder, transcoderRegistry } from './transcoder-registry.js';
export { vanillaTranscoder } from './vanilla-transcoder.js';
export { batchTopKTranscoder, topKTranscoder } from './topk-transcoder.js';
export { jumpReluTranscoder } from './jumprelu-transcoder.js';
export {
  batchTopKTranscoderConfigSchema,
  DEFAULT_INPUT_HOOK,
  DEFAULT_OUTPUT_HOOK,
  jumpReluTranscoderConfigSchema,
  topKTranscoderConfigSchema,
  TRANSCODER_ARCHITECTURES,
  vanillaTranscoderConfigSchema,
} from './transcoder-config.js';
export type {
  BatchTopKTranscoderConfig,
  BatchTopKTranscoderConfigInput,
  JumpReluTranscoderConfig,
  JumpReluTranscoderConfigInput,
  TopKTranscoderConfig,
  TopKTranscoderConfigInput,
  TranscoderArchitecture,
  TranscoderConfig,
  VanillaTranscoderConfig,
  VanillaTranscoderConfigInput,
} from './transcoder-config.js';
export type { Transcoder, TranscoderInference } from './transcoder.js';
export {
  loadTranscoder,
  saveTranscoder,
  TRANSCODER_CONFIG_FILE,
  TRANSCODER_STATE_FILE,
  TRANSCODER_WEIGHTS_FILE,
} from './transcoder-files.js';
export type { LoadedTranscoder } from './transcoder-files.js';
export { loadSparsifyTranscoder, SPARSIFY_CONFIG_FILE, SPARSIFY_WEIGHTS_FILE } from './sparsify-files.js';
export type { LoadedSparsifyTranscoder, SparsifyLoadOptions } from './sparsify-files.js';
export { TranscoderFileError } from './transcoder-file-error.js';
export { transcoderFamily } from './transcoder-family.js';
