import { ConfigError } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { createBackend } from './backend-choice.js';

describe('createBackend', () => {
  it('gives ONNX Runtime on the device asked for', async () => {
    const backend = await createBackend({ backend: 'onnx', device: 'cpu' });
    expect(backend.name).toMatch(/onnx/);
    expect(backend.capabilities.device).toBe('cpu');
    await backend.dispose();
  });

  it('loads @nnd/backend-tfjs only when asked for, on its fastest installed runtime', async () => {
    const backend = await createBackend({ backend: 'tfjs', device: 'cpu' });
    expect(backend.name).toMatch(/^tfjs/);
    await backend.dispose();
  });

  it('says that tfjs has no WebGPU runtime in Node', async () => {
    await expect(createBackend({ backend: 'tfjs', device: 'webgpu' })).rejects.toThrow(ConfigError);
    await expect(createBackend({ backend: 'tfjs', device: 'webgpu' })).rejects.toThrow('\'device\' is "webgpu" with \'backend\' "tfjs"');
  });
});
