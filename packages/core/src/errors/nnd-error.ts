const marker = Symbol.for('nnd.error');

/**
 * Base of every error nnd throws. The marker survives duplicate installs of
 * `@nnd/core` (two copies of the class in one process), where `instanceof`
 * does not.
 */
export class NndError extends Error {
  // biome-ignore lint/correctness/noUnusedPrivateClassMembers: read through the symbol by isInstance, across duplicate installs.
  private readonly [marker] = true;
  /** Stable machine-readable code, e.g. `nnd.shape`. */
  readonly code: string;

  constructor(message: string, options: { code?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code ?? 'nnd.error';
  }

  static isInstance(error: unknown): error is NndError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[marker] === true;
  }
}
