export { createTranscoder, transcoderRegistry } from './transcoder-registry.js';
export { vanillaTranscoder } from './vanilla-transcoder.js';
export { batchTopKTranscoder, topKTranscoder } from './topk-transcoder.js';
export { jumpReluTranscoder } from './jumprelu-transcoder.js';
export {
  batchTopKTranscoderConfigSchema, DEFAULT_INPUT_HOOK, DEFAULT_OUTPUT_HOOK, jumpReluTranscoderConfigSchema, topKTranscoderConfigSchema,
  TRANSCODER_ARCHITECTURES, vanillaTranscoderConfigSchema,
} from './transcoder-config.js';
export type {
  BatchTopKTranscoderConfig, BatchTopKTranscoderConfigInput, JumpReluTranscoderConfig, JumpReluTranscoderConfigInput, TopKTranscoderConfig,
  TopKTranscoderConfigInput, TranscoderArchitecture, TranscoderConfig, VanillaTranscoderConfig, VanillaTranscoderConfigInput,
} from './transcoder-config.js';
export type { Transcoder, TranscoderInference } from './transcoder.js';
