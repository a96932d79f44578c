export { createTfjsBackend, tfjsBackend } from './tfjs-backend.js';
export type { TfjsBackend, TfjsBackendSettings } from './tfjs-backend.js';
export { TFJS_RUNTIMES } from './tfjs-runtime.js';
export type { TfjsRuntime } from './tfjs-runtime.js';
export { TFJS_SUPPORTED_DTYPES } from './tfjs-dtype.js';
