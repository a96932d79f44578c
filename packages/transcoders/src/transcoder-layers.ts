import { add, matmul, relu, transpose, type Tensor, type TensorMap } from '@nnd/core';
import { centeredEncoder, normalizeInput, type NormalizedInput } from '@nnd/sae';
import type { TranscoderConfig } from './transcoder-config.js';
import { requireTensors } from './transcoder.js';

/**
 * The reference's `input_unit_norm` for a transcoder: input and target are
 * standardised separately, per sample; the loss compares the prediction with
 * the standardised target, and the output is mapped back with the target's
 * own mean and std.
 */
export function standardise(x: Tensor, y: Tensor, enabled: boolean): { input: NormalizedInput; target: NormalizedInput } {
  return { input: normalizeInput(x, enabled), target: normalizeInput(y, enabled) };
}

/** Whether b_dec is subtracted from the input: asked for, and possible only when the widths are equal. */
function usesPreEncoderBias(config: TranscoderConfig): boolean {
  return config.pre_enc_bias && config.input_size === config.output_size;
}

export interface TranscoderEncoding {
  /** What the encoder multiplies by W_enc: x, or x - b_dec with pre_enc_bias. */
  readonly centered: Tensor;
  /** relu(centered @ W_enc + b_enc), [batch, dict_size]: the dense activations before any selection. */
  readonly preactivations: Tensor;
  /** b_dec when the encoder subtracts it, for the sparse encoder gradient. */
  readonly bDec?: Tensor;
}

/**
 * relu(x @ W_enc + b_enc), or relu((x - b_dec) @ W_enc + b_enc) with
 * pre_enc_bias at equal widths (through @nnd/sae's centeredEncoder, whose
 * b_dec gradient avoids the dense d(x - b_dec)). Every transcoder type,
 * TopK and BatchTopK included, has the encoder bias (the reference added it
 * in cb9a88a).
 */
export function encodeTranscoder(config: TranscoderConfig, x: Tensor, params: TensorMap): TranscoderEncoding {
  const { b_enc: bEnc, W_enc: wEnc } = requireTensors(params, ['b_enc', 'W_enc'], 'params', config.architecture);
  if (usesPreEncoderBias(config)) {
    const { b_dec: bDec } = requireTensors(params, ['b_dec'], 'params', config.architecture);
    const encoding = centeredEncoder(x, bDec, wEnc);
    return { centered: encoding.centered, preactivations: relu(add(encoding.preactivations, bEnc)), bDec };
  }
  return { centered: x, preactivations: relu(add(matmul(x, wEnc), bEnc)) };
}

/**
 * Adds what every transcoder adds to its decoded features: b_dec, and with
 * `skip` the skip connection x @ W_skip^T (x the standardised input, without
 * the pre-encoder bias).
 */
export function finishOutput(config: TranscoderConfig, decoded: Tensor, x: Tensor, params: TensorMap): Tensor {
  const { b_dec: bDec } = requireTensors(params, ['b_dec'], 'params', config.architecture);
  const output = add(decoded, bDec);
  if (!config.skip) return output;
  const { W_skip: wSkip } = requireTensors(params, ['W_skip'], 'params', config.architecture);
  return add(output, matmul(x, transpose(wSkip)));
}
