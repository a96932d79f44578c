export * from './errors/index.js';
export { DTYPES, allocate, bytesPerElement, dtypeOfData, hostTensor, isFloatDType, sizeOf } from './dtype.js';
export type { DType, HostData, HostTensor, TypedArrayOf } from './dtype.js';
export { broadcastShapes, dimFactors, dimsEqual, evaluateDim, formatShape, isStatic, mulDims, normalizeAxis } from './shape.js';
export type { Dim, Shape } from './shape.js';
export { COMPARISONS, ELEMENTWISE_BINARY, ELEMENTWISE_UNARY, OP_NAMES, REDUCTIONS } from './op-set.js';
export type { CustomVjpRule, OpAttributes, OpName } from './op-set.js';
export { Graph } from './graph.js';
export type { Node } from './node.js';
export { Tensor } from './tensor.js';
export * from './primitives.js';
export { isDeviceTensor } from './backend.js';
export type { Backend, BackendCapabilities, CompileOptions, DeviceTensor, Feed, Program } from './backend.js';
export { checkHostTensor, validateFeeds } from './feed-validation.js';
export type { InputDescription } from './feed-validation.js';
export { symbolSources } from './symbol-sources.js';
export { SymbolBindings, loneSymbolsFirst } from './symbol-bindings.js';
export { grad, unbroadcast } from './grad.js';
export { GRADIENT_RULES } from './gradient-rules.js';
export type { GradientRule, RuleContext } from './gradient-rules.js';
export { axisSize, zeros } from './gradient-helpers.js';
export { crossEntropy, geluTanh, rmsNorm } from './composites.js';
export { adamCorrections, adamUpdate } from './optim/adam.js';
export { clipGradNorm } from './optim/clip-grad-norm.js';
export { clippedAdamStep } from './optim/clipped-adam-step.js';
export type { ClippedAdamStepOptions } from './optim/clipped-adam-step.js';
export type { AdamCorrections, AdamHyperparameters, AdamResult } from './optim/adam.js';
export { Rng } from './rng.js';
export type { RngState } from './rng.js';
export * from './safetensors/index.js';
export { resolveInside } from './resolve-inside.js';
export type { ResolveInsideOptions } from './resolve-inside.js';
export { removeStaleTemporaries, renameDurably, temporaryPathFor, writeFileDurably } from './durable-files.js';
export type { DurableFileContents, WriteFileDurablyOptions } from './durable-files.js';
export {
  checkDecomposition,
  createDecompositionRegistry,
  defineDecomposition,
  describeDecomposition,
  DECOMPOSITION_SPECIFICATION_VERSION,
  lookupDecomposition,
  streamsOf,
} from './decomposition.js';
export type {
  ActivationPort,
  DescribedValue,
  Decomposition,
  DashboardValues,
  DecompositionBatch,
  DecompositionDefinition,
  DecompositionRegistry,
  DecompositionWithParams,
  EvaluationOption,
  FeatureGroup,
  ForwardOptions,
  MeasuredFeatureGroup,
  ForwardOutput,
  ForwardVariant,
  GradientGroup,
  InferenceOptions,
  InferenceOutput,
  KeptFeatures,
  TensorMap,
} from './decomposition.js';
export type { DecompositionFamily, FamilyContext, FamilyMember, SavedDecomposition } from './decomposition-family.js';
export { initialTrainingParams } from './initial-training-params.js';
export { combineDecompositions, combinedTensors, COMBINED_ARCHITECTURE } from './combined-decomposition.js';
export type { CombinedDecomposition } from './combined-decomposition.js';
export type { ActivationBatch, ActivationSource, StreamBatch } from './activation-source.js';
export { createReferenceBackend, evaluateGraph } from './reference/index.js';
