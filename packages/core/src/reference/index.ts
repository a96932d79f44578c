export { createReferenceBackend } from './backend.js';
export { evaluateGraph } from './evaluate.js';
