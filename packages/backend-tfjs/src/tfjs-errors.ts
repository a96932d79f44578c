import { BackendError, NndError, UnsupportedOpError } from '@nnd/core';

/**
 * Turns a failure inside a tfjs kernel into an nnd error naming the IR node:
 * a kernel the runtime lacks is an UnsupportedOpError naming op and runtime;
 * anything else a BackendError. nnd errors (shape checks in our kernels)
 * pass through.
 */
export function kernelError(error: unknown, where: string, runtime: string): NndError {
  if (NndError.isInstance(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  const missing = /Kernel '([^']+)' not registered for backend '([^']+)'/.exec(message);
  if (missing !== null) {
    return new UnsupportedOpError(`${where}: the tfjs '${runtime}' runtime has no '${missing[1]}' kernel, which this op needs; run the graph on another tfjs runtime or on backend-onnx.`, {
      cause: error,
    });
  }
  if (/not yet supported|not supported/i.test(message)) {
    return new UnsupportedOpError(`${where}: the tfjs '${runtime}' runtime cannot run this op here: ${message}`, { cause: error });
  }
  return new BackendError(`${where} failed on the tfjs '${runtime}' runtime: ${message}`, { cause: error });
}
