export { cltRegistry, cltPorts, createClt, createCrossLayerTranscoder, batchTopKClt, jumpReluClt, topKClt, vanillaClt } from './cross-layer-transcoder.js';
export type { CrossLayerTranscoder } from './cross-layer-transcoder.js';
export {
  architectureFor,
  CLT_ARCHITECTURES,
  CLT_ENCODER_TYPES,
  CLT_VARIANTS,
  cltConfigSchema,
  DEFAULT_HOOK_TEMPLATE_IN,
  DEFAULT_HOOK_TEMPLATE_OUT,
  hookForLayer,
  parseCltConfig,
  VARIANT_ENCODER_TYPES,
} from './clt-config.js';
export type { CltArchitecture, CltConfig, CltConfigInput, CltEncoderType, CltVariant } from './clt-config.js';
export { cltParameterShapes, cltStateNames } from './clt-parameters.js';
export { fromReferenceTensors, toReferenceTensors } from './reference-layout.js';
export {
  CIRCUIT_TRACER_HOOK_TEMPLATE_IN,
  CIRCUIT_TRACER_HOOK_TEMPLATE_OUT,
  CLT_CONFIG_FILE,
  CLT_STATE_FILE,
  CltFileError,
  loadClt,
  saveClt,
} from './clt-files.js';
export type { CircuitTracerLoadOptions, LoadedClt } from './clt-files.js';
export { cltFamily } from './clt-family.js';
