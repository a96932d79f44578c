import { hostTensor, type HostTensor, type Rng } from '@nnd/core';

/**
 * The reference's initialisation: b_dec and b_enc zero; W_enc [act_size,
 * dict_size] from PyTorch's kaiming_uniform_ defaults (bound
 * sqrt(6 / dict_size), since fan_in is dim 1 of a 2-D tensor); W_dec =
 * W_enc^T with every row scaled to unit L2 norm.
 */
export function initialSaeParameters(actSize: number, dictSize: number, rng: Rng): Record<string, HostTensor> {
  const wEnc = rng.kaimingUniform([actSize, dictSize]);
  const wDec = new Float32Array(dictSize * actSize);
  for (let feature = 0; feature < dictSize; feature++) {
    let squares = 0;
    for (let input = 0; input < actSize; input++) squares += wEnc[input * dictSize + feature] ** 2;
    const norm = Math.sqrt(squares);
    for (let input = 0; input < actSize; input++) wDec[feature * actSize + input] = wEnc[input * dictSize + feature] / norm;
  }
  return {
    b_dec: hostTensor('float32', [actSize], new Float32Array(actSize)),
    b_enc: hostTensor('float32', [dictSize], new Float32Array(dictSize)),
    W_enc: hostTensor('float32', [actSize, dictSize], wEnc),
    W_dec: hostTensor('float32', [dictSize, actSize], wDec),
  };
}

/** The dead-feature counter every SAE type keeps: batches since each feature last fired. */
export function initialDeadFeatureState(dictSize: number): Record<string, HostTensor> {
  return { num_batches_not_active: hostTensor('float32', [dictSize], new Float32Array(dictSize)) };
}
