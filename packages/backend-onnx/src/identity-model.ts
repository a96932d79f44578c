import type { DType } from '@nnd/core';
import onnxProto from 'onnx-proto';
import { ONNX_IR_VERSION, ONNX_OPSET } from './compile-to-onnx.js';
import { onnxDataType } from './onnx-dtype.js';

const { onnx } = onnxProto;

/**
 * y = Identity(x) for any shape of one dtype. On WebGPU a session of it
 * moves tensors between host and GPU buffers: onnxruntime-node cannot create
 * GPU tensors from JS, and reading one with getData() aborts the process.
 */
export function identityModel(dtype: DType): Uint8Array {
  const type = { tensorType: { elemType: onnxDataType(dtype) } };
  return onnx.ModelProto.encode({
    irVersion: ONNX_IR_VERSION,
    producerName: '@nnd/backend-onnx',
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    graph: {
      name: `identity_${dtype}`,
      node: [{ opType: 'Identity', input: ['x'], output: ['y'], name: 'Identity' }],
      input: [{ name: 'x', type }],
      output: [{ name: 'y', type }],
    },
  }).finish();
}
