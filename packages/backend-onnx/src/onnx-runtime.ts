import type * as OnnxRuntimeModule from 'onnxruntime-node';

export type OnnxRuntime = typeof OnnxRuntimeModule.default;
export type OnnxRuntimeTensor = OnnxRuntimeModule.Tensor;
export type OnnxRuntimeSession = OnnxRuntimeModule.InferenceSession;
export type SessionOptions = OnnxRuntimeModule.InferenceSession.SessionOptions;

let loading: Promise<OnnxRuntime> | undefined;

/**
 * onnxruntime-node loads its native library when imported, so it is imported
 * on first use: importing this package stays free of side effects.
 */
export function loadOnnxRuntime(): Promise<OnnxRuntime> {
  // A CommonJS package: Node's ESM loader exposes its exports as `default`;
  // loaders that read its named exports (tsx) may not add one.
  return (loading ??= import('onnxruntime-node').then((module) => (module.default ?? module) as OnnxRuntime));
}
