import {
  ConfigError,
  createDecompositionRegistry,
  DECOMPOSITION_SPECIFICATION_VERSION,
  defineDecomposition,
  lookupDecomposition,
  Rng,
  type ActivationPort,
  type Decomposition,
  type DecompositionDefinition,
  type Graph,
  type HostTensor,
  type TensorMap,
} from '@nnd/core';
import { unitNormRows } from '@nnd/sae';
import { architectureFor, CLT_ENCODER_TYPES, encoderTypeOf, hookForLayer, parseCltConfig, type CltArchitecture, type CltConfig, type CltEncoderType } from './clt-config.js';
import { cltDecoderDirections } from './clt-decoder-directions.js';
import { cltForward, cltVariants } from './clt-forward.js';
import { cltFeatureGroups, cltInference } from './clt-inference.js';
import { cltParameterNames, decoderName, initialCltParameters, initialCltState } from './clt-parameters.js';

/** A cross-layer transcoder behind core's Decomposition contract. */
export interface CrossLayerTranscoder extends Decomposition<CltConfig> {
  readonly architecture: CltArchitecture;
  /** Names of the trained parameters (see clt-parameters.ts). */
  readonly parameterNames: readonly string[];
  /** Without an argument, drawn from `new Rng(config.seed)`. */
  initialParams(rng?: Rng): Record<string, HostTensor>;
}

/** Layer i reads `hook_template_in` and writes `hook_template_out` at model layer layers[i]. */
export function cltPorts(config: CltConfig): { reads: ActivationPort[]; writes: ActivationPort[] } {
  return {
    reads: config.layers.map((layer) => ({ hook: hookForLayer(config.hook_template_in, layer), width: config.input_size })),
    writes: config.layers.map((layer) => ({ hook: hookForLayer(config.hook_template_out, layer), width: config.output_size })),
  };
}

/**
 * The reference variant keeps every decoder vector W_dec_i[f, j - i, :] at
 * unit norm, removing the gradient's radial part first (clt.py
 * make_decoder_weights_and_grad_unit_norm); Anthropic's has no constraint
 * (the decoder norms enter its sparsity penalty instead).
 */
function constrainDecoders(config: CltConfig) {
  return (_graph: Graph, params: TensorMap, gradients: TensorMap): { params: TensorMap; gradients: TensorMap } => {
    const nextParams = { ...params };
    const nextGradients = { ...gradients };
    for (let i = 0; i < config.layers.length; i++) {
      const name = decoderName(i);
      if (params[name] === undefined || gradients[name] === undefined) continue;
      const constrained = unitNormRows(params[name], gradients[name]);
      nextParams[name] = constrained.weights;
      nextGradients[name] = constrained.gradient;
    }
    return { params: nextParams, gradients: nextGradients };
  };
}

export function createCrossLayerTranscoder(config: CltConfig): CrossLayerTranscoder {
  const ports = cltPorts(config);
  const swept = config.encoder_type === 'topk' || config.encoder_type === 'batchtopk' ? { key: 'top_k', value: config.top_k } : { key: 'l1_coeff', value: config.l1_coeff };
  return {
    specificationVersion: DECOMPOSITION_SPECIFICATION_VERSION,
    architecture: config.architecture,
    config,
    reads: ports.reads,
    writes: ports.writes,
    parameterNames: cltParameterNames(config),
    describe: () => [
      { key: 'architecture', value: config.architecture },
      ...(config.variant === 'reference' ? [] : [{ key: 'variant', value: config.variant }]),
      { key: 'layers', value: config.layers.join(',') },
      swept,
    ],
    initialParams: (rng: Rng = new Rng(config.seed)) => initialCltParameters(config, rng),
    initialState: () => initialCltState(config),
    forward: (_graph, batch, params, state, options) => cltForward(config, ports, batch, params, state, options),
    decoderDirections: (graph, params) => cltDecoderDirections(config, ports.writes, graph, params),
    variants: cltVariants(config),
    inferOutputs: (_graph, inputs, params, _state, options) => cltInference(config, ports, inputs, params, options),
    inferenceOptions: ['topK'],
    forwardCouplesSamples: config.encoder_type === 'batchtopk',
    featureGroups: () => cltFeatureGroups(config),
    ...(config.variant === 'reference' ? { constrain: constrainDecoders(config) } : {}),
  };
}

function definitionFor(encoderType: CltEncoderType): DecompositionDefinition<CltConfig> {
  const architecture = architectureFor(encoderType);
  return defineDecomposition<CltConfig>({
    architecture,
    parseConfig: (config) => {
      const named = typeof config === 'object' && config !== null && ('encoder_type' in config || 'architecture' in config) ? encoderTypeOf(config) : encoderType;
      if (named !== encoderType) {
        throw new ConfigError(`${architecture}: the config names encoder_type '${named}'; use the '${architectureFor(named)}' definition, or drop the key.`);
      }
      return parseCltConfig({ ...(config as object), encoder_type: encoderType });
    },
    create: createCrossLayerTranscoder,
  });
}

export const vanillaClt = definitionFor('vanilla');
export const topKClt = definitionFor('topk');
export const batchTopKClt = definitionFor('batchtopk');
export const jumpReluClt = definitionFor('jumprelu');

/** The four CLT types, keyed by architecture (`vanilla_clt`, `topk_clt`, `batchtopk_clt`, `jumprelu_clt`). */
export const cltRegistry = createDecompositionRegistry(CLT_ENCODER_TYPES.map(definitionFor));

/**
 * Validates a raw config (defaults filled in) and creates the CLT its
 * `encoder_type` (the reference's key) or `architecture` names.
 */
export function createClt(config: unknown): CrossLayerTranscoder {
  const definition = lookupDecomposition(cltRegistry, architectureFor(encoderTypeOf(config)));
  return definition.create(definition.parseConfig(config)) as CrossLayerTranscoder;
}
