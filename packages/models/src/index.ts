export { HookedTransformer, TOKENS_INPUT } from './hooked-transformer.js';
export type { FromPretrainedOptions, HookedTransformerOptions, RunOptions, RunResult } from './hooked-transformer.js';
export { buildTransformerGraph, planForward, weightMatrices } from './transformer-graph.js';
export { mlpGraph } from './mlp-graph.js';
export type { MlpGraphParts } from './mlp-graph.js';
export type { ForwardOptions, ForwardResult, HookReplacement, MatrixProduct, ReturnType } from './transformer-graph.js';
export { hookName, hookPointNames, hookShape } from './hook-points.js';
export type { LayerHookKind, ModelHookKind } from './hook-points.js';
export type { Activation, TransformerConfig } from './transformer-config.js';
export { parameterShapes } from './parameter-shapes.js';
export { initializeParameters } from './initialize-parameters.js';
export { saveGpt2Directory } from './save-gpt2-directory.js';
export { buildTrainingStep, DEFAULT_ADAM, trainingNames } from './training-step.js';
export type { AdamSettings, TrainingStep } from './training-step.js';
export { learningRateAt, trainLanguageModel } from './train-language-model.js';
export type { LanguageModelTrainingOptions, LanguageModelTrainingResult, TrainingProgress } from './train-language-model.js';
export { ARCHITECTURES, architectureFor, gpt2, gpt2HuggingFaceConfig, gpt2ToHuggingFace, gptNeox, llama } from './architectures/index.js';
export type { Architecture } from './architectures/index.js';
export { HuggingFaceConfig } from './hugging-face-config.js';
export { openWeights } from './weight-files.js';
export type { WeightReader } from './weight-files.js';
export { cachePathFor, defaultCacheDirectory, resolveModelDirectory } from './hub-download.js';
export type { HubOptions } from './hub-download.js';
export { Tokenizer } from './tokenizer.js';
export type { ToTokensOptions } from './tokenizer.js';
export { toTokenTensor } from './token-batches.js';
export type { TokenInput } from './token-batches.js';
export { ModelNotFoundError } from './model-not-found-error.js';
export { tinyLanguageModelDirectory } from './tiny-language-model.js';
export { modelLocation, TINY_LM } from './model-names.js';
export {
  BYTE_LEVEL_BOS,
  BYTE_LEVEL_BOS_ID,
  BYTE_LEVEL_EOS,
  BYTE_LEVEL_EOS_ID,
  BYTE_LEVEL_VOCAB_SIZE,
  byteLevelTokenizerConfig,
  byteLevelTokenizerJson,
} from './byte-level-tokenizer.js';
