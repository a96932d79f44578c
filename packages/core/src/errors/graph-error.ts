import { NndError } from './nnd-error.js';

/** Thrown for a malformed graph (unknown input, tensor from another graph, missing feed). */
export class GraphError extends NndError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'nnd.graph', ...options });
  }
}
