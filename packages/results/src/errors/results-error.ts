import { NndError } from '@nnd/core';

/**
 * Thrown for results that cannot be loaded, tabulated or rendered: a source
 * that names no runs, a summary field of the wrong shape, a W&B answer that
 * does not have the shape of W&B's public API, a plot that fails to render.
 */
export class ResultsError extends NndError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'nnd.results', ...options });
  }
}
