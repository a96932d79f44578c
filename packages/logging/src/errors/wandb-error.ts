import { NndError } from '@nnd/core';

/**
 * Thrown for a Weights & Biases request that failed: an HTTP status, a GraphQL
 * error, or a network error. `retryable` says whether trying again later may
 * succeed (network errors, 408, 429, 5xx) or not (bad key, bad request).
 */
export class WandbError extends NndError {
  readonly retryable: boolean;
  /** HTTP status, when the server answered. */
  readonly status: number | undefined;

  constructor(message: string, options: { cause?: unknown; retryable: boolean; status?: number }) {
    super(message, { code: 'nnd.wandb', cause: options.cause });
    this.retryable = options.retryable;
    this.status = options.status;
  }
}
