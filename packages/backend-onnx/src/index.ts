export { ARENA_ENV, createOnnxBackend, onnxBackend, THREADS_ENV } from './onnx-backend.js';
export type { OnnxBackendSettings, OnnxLogLevel } from './onnx-backend.js';
export type { OnnxDevice } from './runtime-errors.js';
export { compileToOnnx, ONNX_IR_VERSION, ONNX_OPSET } from './compile-to-onnx.js';
export type { CompileToOnnxOptions } from './compile-to-onnx.js';
export type { OnnxModel, OnnxValueInfo } from './compile-to-onnx.js';
