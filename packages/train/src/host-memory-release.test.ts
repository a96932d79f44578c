import type { DeviceTensor } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { hostBytesOf, releaseHostMemory } from './host-memory-release.js';

const tensor = (dtype: DeviceTensor['dtype'], shape: number[], location: string): DeviceTensor => ({
  dtype,
  shape,
  location,
  toHost: () => Promise.reject(new Error('not read')),
  dispose: () => undefined,
});

describe('host memory release', () => {
  it('counts the bytes of host tensors only: GPU buffers are freed by dispose()', () => {
    expect(hostBytesOf([tensor('float32', [1024, 3], 'cpu'), tensor('float64', [10], 'cpu'), tensor('int64', [], 'cpu'), tensor('bool', [7], 'cpu')])).toBe(12288 + 80 + 8 + 7);
    expect(hostBytesOf([tensor('float32', [1 << 20], 'gpu-buffer')])).toBe(0);
  });

  it('frees an ArrayBuffer nothing refers to any more', async () => {
    const dropped = (() => new WeakRef(new Float32Array(1 << 20)))();
    // A WeakRef's target stays alive until the job that made it ends.
    await new Promise((resolve) => setImmediate(resolve));
    releaseHostMemory();
    expect(dropped.deref()).toBeUndefined();
  });
});
