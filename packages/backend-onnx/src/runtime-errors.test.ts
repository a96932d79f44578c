import { BackendError } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { runError, sessionCreationError } from './runtime-errors.js';

describe('onnxruntime error translation', () => {
  it('explains a missing CUDA provider', () => {
    const error = sessionCreationError(new Error('OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library'), 'cuda');
    expect(error).toBeInstanceOf(BackendError);
    expect(error.message).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12/);
    expect(error.message).toMatch(/allowBuilds: onnxruntime-node: false/);
    expect(error.message).toMatch(/device 'cpu' or 'webgpu'/);
  });

  it('explains a missing WebGPU adapter', () => {
    const message = 'webgpu_context.cc:136 adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters';
    const error = sessionCreationError(new Error(message), 'webgpu');
    expect(error.message).toMatch(/lavapipe/);
    expect(error.message).toMatch(/mesa-vulkan-drivers libvulkan1/);
    expect(error.cause).toBeInstanceOf(Error);
  });

  it('names the IR node of a failing ONNX node', () => {
    const error = runError(new Error("Non-zero status code returned while running Reshape node. Name:'Reshape_12' Status Message: bad shape"), 'cpu');
    expect(error.message).toMatch(/Reshape \(node 12\)/);
    expect(sessionCreationError(new Error("Could not find an implementation for Erf(13) node with name 'Erf_3'"), 'cpu').message).toMatch(/Erf \(node 3\)/);
  });
});
