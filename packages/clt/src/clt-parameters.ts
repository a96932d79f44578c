import { hostTensor, type HostTensor, type Rng } from '@nnd/core';
import type { CltConfig } from './clt-config.js';

/**
 * Parameter names and shapes, one tensor per layer as circuit-tracer's files
 * hold them (i is the position in `layers`, not the model layer):
 *
 * | name | shape |
 * |---|---|
 * | `W_enc_{i}` | [input_size, F] |
 * | `b_enc_{i}` | [F] |
 * | `W_dec_{i}` | [F, n - i, output_size]: W_dec_i[f, j - i] writes feature f to target layer j >= i |
 * | `b_dec_{j}` | [output_size] |
 * | `log_threshold_{i}` | [F] (JumpReLU) |
 *
 * W_dec is stored feature-major (circuit-tracer's order, the reference's is
 * [n - i, F, d_out]) so that a source's decoders are one [F, (n - i) * d_out]
 * matrix without a copy.
 */
export function decoderName(source: number): string {
  return `W_dec_${source}`;
}

export function cltParameterShapes(config: CltConfig): Record<string, number[]> {
  const { layers, dict_size: features, input_size: dIn, output_size: dOut } = config;
  const n = layers.length;
  const shapes: Record<string, number[]> = {};
  for (let i = 0; i < n; i++) shapes[`W_enc_${i}`] = [dIn, features];
  for (let i = 0; i < n; i++) shapes[`b_enc_${i}`] = [features];
  for (let i = 0; i < n; i++) shapes[decoderName(i)] = [features, n - i, dOut];
  for (let j = 0; j < n; j++) shapes[`b_dec_${j}`] = [dOut];
  if (config.encoder_type === 'jumprelu') for (let i = 0; i < n; i++) shapes[`log_threshold_${i}`] = [features];
  return shapes;
}

export function cltParameterNames(config: CltConfig): string[] {
  return Object.keys(cltParameterShapes(config));
}

/** One dead-feature counter per source layer: `num_batches_not_active_{i}` [F]. */
export function cltStateNames(config: CltConfig): string[] {
  return config.layers.map((_, i) => `num_batches_not_active_${i}`);
}

export function initialCltState(config: CltConfig): Record<string, HostTensor> {
  return Object.fromEntries(cltStateNames(config).map((name) => [name, hostTensor('float32', [config.dict_size], new Float32Array(config.dict_size))]));
}

/**
 * The reference's initialisation (clt.py), drawn in its order: every
 * W_enc_i from kaiming_uniform_ on [d_in, F]; zero b_enc; every W_dec_i from
 * kaiming_uniform_ on the reference's [n - i, F, d_out], then each decoder
 * vector (source, target, feature) scaled to unit norm and stored
 * feature-major; zero b_dec; JumpReLU log-thresholds 0 (threshold 1).
 */
export function initialCltParameters(config: CltConfig, rng: Rng): Record<string, HostTensor> {
  const { layers, dict_size: features, input_size: dIn, output_size: dOut } = config;
  const n = layers.length;
  const params: Record<string, HostTensor> = {};
  for (let i = 0; i < n; i++) params[`W_enc_${i}`] = hostTensor('float32', [dIn, features], rng.kaimingUniform([dIn, features]));
  for (let i = 0; i < n; i++) params[`b_enc_${i}`] = hostTensor('float32', [features], new Float32Array(features));
  for (let i = 0; i < n; i++) {
    const drawn = rng.kaimingUniform([n - i, features, dOut]);
    for (let vector = 0; vector < (n - i) * features; vector++) {
      let squares = 0;
      for (let d = 0; d < dOut; d++) squares += drawn[vector * dOut + d] ** 2;
      const norm = Math.sqrt(squares);
      for (let d = 0; d < dOut; d++) drawn[vector * dOut + d] /= norm;
    }
    params[decoderName(i)] = hostTensor('float32', [features, n - i, dOut], targetMajorToFeatureMajor(drawn, n - i, features, dOut));
  }
  for (let j = 0; j < n; j++) params[`b_dec_${j}`] = hostTensor('float32', [dOut], new Float32Array(dOut));
  if (config.encoder_type === 'jumprelu') {
    for (let i = 0; i < n; i++) params[`log_threshold_${i}`] = hostTensor('float32', [features], new Float32Array(features));
  }
  return params;
}

/** [targets, F, d] -> [F, targets, d]. */
export function targetMajorToFeatureMajor(data: ArrayLike<number>, targets: number, features: number, width: number): Float32Array {
  const out = new Float32Array(targets * features * width);
  for (let t = 0; t < targets; t++) {
    for (let f = 0; f < features; f++) {
      for (let d = 0; d < width; d++) out[(f * targets + t) * width + d] = data[(t * features + f) * width + d];
    }
  }
  return out;
}

/** [F, targets, d] -> [targets, F, d]. */
export function featureMajorToTargetMajor(data: ArrayLike<number>, targets: number, features: number, width: number): Float32Array {
  const out = new Float32Array(targets * features * width);
  for (let t = 0; t < targets; t++) {
    for (let f = 0; f < features; f++) {
      for (let d = 0; d < width; d++) out[(t * features + f) * width + d] = data[(f * targets + t) * width + d];
    }
  }
  return out;
}
