import { BackendError, type DType, type DeviceTensor, type HostData, type HostTensor } from '@nnd/core';
import type { OnnxRuntimeTensor } from './onnx-runtime.js';

/**
 * An onnxruntime tensor held by one backend: CPU memory, or a WebGPU buffer
 * (`location` 'gpu-buffer') that later runs of the same backend consume
 * without a copy.
 */
export class OnnxDeviceTensor implements DeviceTensor {
  private disposed = false;

  constructor(
    readonly value: OnnxRuntimeTensor,
    readonly dtype: DType,
    /** The backend that made it; GPU buffers mean nothing to sessions of another backend. */
    readonly owner: object,
    private readonly download: (tensor: OnnxDeviceTensor) => Promise<HostTensor>,
  ) {}

  get shape(): readonly number[] {
    return this.value.dims;
  }

  get location(): string {
    return this.value.location;
  }

  /** On the CPU a view of onnxruntime's output (no copy); from a GPU buffer a download. */
  async toHost(): Promise<HostTensor> {
    this.assertLive();
    if (this.value.location === 'cpu') return { dtype: this.dtype, shape: [...this.value.dims], data: this.value.data as HostData };
    return this.download(this);
  }

  assertLive(): void {
    if (this.disposed) {
      throw new BackendError(`A ${this.dtype} [${this.shape.join(', ')}] device tensor was used after dispose(); keep it alive until its last run.`);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.value.dispose();
  }
}
