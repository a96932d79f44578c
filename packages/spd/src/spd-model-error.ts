import { NndError } from '@nnd/core';

/**
 * A problem with what SPD is asked to decompose: a module name that is not a
 * weight matrix of the model, or a model whose weights changed since the
 * decomposition was trained (sha256 mismatch).
 */
export class SpdModelError extends NndError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'nnd.spd-model', ...options });
  }
}
