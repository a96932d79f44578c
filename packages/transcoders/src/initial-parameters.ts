import { hostTensor, type HostTensor, type Rng } from '@nnd/core';
import type { TranscoderConfig } from './transcoder-config.js';

/**
 * The reference's initialisation, in its draw order (b_dec, b_enc, W_enc,
 * W_dec), so a seed gives one init: biases zero; W_enc [d_in, F] and W_dec
 * [F, d_out] two kaiming-uniform draws (PyTorch's defaults: bound
 * sqrt(6 / size of dim 1)); W_dec replaced by W_enc^T only when the widths
 * are equal (the SAE case); then W_dec's rows scaled to unit norm. W_skip
 * [d_out, d_in] and log_threshold start at zero and draw nothing.
 */
export function initialTranscoderParameters(config: TranscoderConfig, rng: Rng): Record<string, HostTensor> {
  const { input_size: dIn, output_size: dOut, dict_size: features } = config;
  const wEnc = rng.kaimingUniform([dIn, features]);
  const wDec = rng.kaimingUniform([features, dOut]);
  if (dIn === dOut) {
    for (let feature = 0; feature < features; feature++) {
      for (let column = 0; column < dOut; column++) wDec[feature * dOut + column] = wEnc[column * features + feature];
    }
  }
  for (let feature = 0; feature < features; feature++) {
    let squares = 0;
    for (let column = 0; column < dOut; column++) squares += wDec[feature * dOut + column] ** 2;
    const norm = Math.sqrt(squares);
    for (let column = 0; column < dOut; column++) wDec[feature * dOut + column] /= norm;
  }
  const params: Record<string, HostTensor> = {
    b_dec: hostTensor('float32', [dOut], new Float32Array(dOut)),
    b_enc: hostTensor('float32', [features], new Float32Array(features)),
    W_enc: hostTensor('float32', [dIn, features], wEnc),
    W_dec: hostTensor('float32', [features, dOut], wDec),
  };
  if (config.skip) params.W_skip = hostTensor('float32', [dOut, dIn], new Float32Array(dOut * dIn));
  if (config.architecture === 'jumprelu_transcoder') params.log_threshold = hostTensor('float32', [features], new Float32Array(features));
  return params;
}

/** The parameter names, in the reference's optimiser order. */
export function transcoderParameterNames(config: TranscoderConfig): string[] {
  return ['b_dec', 'b_enc', 'W_enc', 'W_dec', ...(config.skip ? ['W_skip'] : []), ...(config.architecture === 'jumprelu_transcoder' ? ['log_threshold'] : [])];
}
