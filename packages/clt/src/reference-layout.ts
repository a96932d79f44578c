import { ConfigError, hostTensor, type HostTensor } from '@nnd/core';
import type { CltConfig } from './clt-config.js';
import { cltParameterShapes, decoderName, featureMajorToTargetMajor, targetMajorToFeatureMajor } from './clt-parameters.js';

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, i) => dim === b[i]);
}

function float32(tensor: HostTensor): Float32Array {
  return tensor.data instanceof Float32Array ? tensor.data : Float32Array.from(tensor.data as ArrayLike<number>);
}

/**
 * Tensors named as the reference's `CrossLayerTranscoder.state_dict()`
 * (`W_enc.{i}` [d_in, F], `b_enc.{i}`, `W_dec.{i}` [n - i, F, d_out],
 * `b_dec.{j}`, `jumprelu_log_thresholds.{i}` or `log_threshold.{i}`, and
 * optionally the counters `num_batches_not_active.{i}`) as this package's
 * parameters and state. For weights the reference wrote (encoder.pt,
 * converted to safetensors) and for known-answer fixtures.
 */
export function fromReferenceTensors(config: CltConfig, tensors: Readonly<Record<string, HostTensor>>): { params: Record<string, HostTensor>; state: Record<string, HostTensor> } {
  const n = config.layers.length;
  const { dict_size: features, output_size: dOut } = config;
  const shapes = cltParameterShapes(config);
  const take = (names: readonly string[], shape: readonly number[]): HostTensor => {
    const name = names.find((candidate) => tensors[candidate] !== undefined);
    if (name === undefined)
      throw new ConfigError(`fromReferenceTensors: '${names[0]}' is missing; the reference's ${config.architecture} over ${n} layers has it (got ${Object.keys(tensors).join(', ')}).`);
    const tensor = tensors[name];
    if (!sameShape(tensor.shape, shape)) throw new ConfigError(`fromReferenceTensors: '${name}' has shape [${tensor.shape.join(', ')}], but the config implies [${shape.join(', ')}].`);
    return tensor;
  };
  const params: Record<string, HostTensor> = {};
  const state: Record<string, HostTensor> = {};
  for (let i = 0; i < n; i++) {
    params[`W_enc_${i}`] = hostTensor('float32', shapes[`W_enc_${i}`], float32(take([`W_enc.${i}`], shapes[`W_enc_${i}`])));
    params[`b_enc_${i}`] = hostTensor('float32', [features], float32(take([`b_enc.${i}`], [features])));
    const decoder = take([`W_dec.${i}`], [n - i, features, dOut]);
    params[decoderName(i)] = hostTensor('float32', shapes[decoderName(i)], targetMajorToFeatureMajor(float32(decoder), n - i, features, dOut));
    params[`b_dec_${i}`] = hostTensor('float32', [dOut], float32(take([`b_dec.${i}`], [dOut])));
    if (config.encoder_type === 'jumprelu') {
      params[`log_threshold_${i}`] = hostTensor('float32', [features], float32(take([`jumprelu_log_thresholds.${i}`, `log_threshold.${i}`], [features])));
    }
    const counter = tensors[`num_batches_not_active.${i}`];
    state[`num_batches_not_active_${i}`] =
      counter === undefined ? hostTensor('float32', [features], new Float32Array(features)) : hostTensor('float32', [features], float32(take([`num_batches_not_active.${i}`], [features])));
  }
  return { params, state };
}

/** The inverse of fromReferenceTensors: the reference's names and its [n - i, F, d_out] decoder layout. */
export function toReferenceTensors(config: CltConfig, params: Readonly<Record<string, HostTensor>>, state: Readonly<Record<string, HostTensor>> = {}): Record<string, HostTensor> {
  const n = config.layers.length;
  const { dict_size: features, output_size: dOut } = config;
  const out: Record<string, HostTensor> = {};
  for (let i = 0; i < n; i++) {
    out[`W_enc.${i}`] = params[`W_enc_${i}`];
    out[`b_enc.${i}`] = params[`b_enc_${i}`];
    out[`W_dec.${i}`] = hostTensor('float32', [n - i, features, dOut], featureMajorToTargetMajor(float32(params[decoderName(i)]), n - i, features, dOut));
    out[`b_dec.${i}`] = params[`b_dec_${i}`];
    if (config.encoder_type === 'jumprelu') out[`jumprelu_log_thresholds.${i}`] = params[`log_threshold_${i}`];
    const counter = state[`num_batches_not_active_${i}`];
    if (counter !== undefined) out[`num_batches_not_active.${i}`] = counter;
  }
  return out;
}
