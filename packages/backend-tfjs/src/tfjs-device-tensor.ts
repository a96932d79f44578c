import { BackendError, formatShape, type DType, type DeviceTensor, type HostTensor } from '@nnd/core';
import { fromTfjsData } from './tfjs-dtype.js';
import type { TfTensor } from './tfjs-runtime.js';

/**
 * A program output or uploaded tensor. Normally it holds a tfjs tensor that
 * later runs consume as is, so parameters and optimizer state stay in the
 * runtime's memory (wasm heap, TensorFlow's allocator, the GPU). Outputs
 * named in `hostOutputs` are read once at the end of the run and hold host
 * data instead (`location` 'cpu').
 */
export class TfjsDeviceTensor implements DeviceTensor {
  readonly shape: readonly number[];
  private disposed = false;

  constructor(
    readonly dtype: DType,
    private readonly content: { readonly tensor: TfTensor; readonly location: string; readonly copyOnRead: boolean } | { readonly host: HostTensor },
  ) {
    this.shape = 'tensor' in content ? [...content.tensor.shape] : [...content.host.shape];
  }

  get location(): string {
    return 'tensor' in this.content ? this.content.location : 'cpu';
  }

  /** The tfjs tensor, when the data is on the device. */
  get tensor(): TfTensor | undefined {
    this.assertLive();
    return 'tensor' in this.content ? this.content.tensor : undefined;
  }

  /** Reads with `await data()`: `dataSync()` blocks, and fails outright on tfjs-webgpu in Node. */
  async toHost(): Promise<HostTensor> {
    this.assertLive();
    if ('host' in this.content) return this.content.host;
    const { tensor, copyOnRead } = this.content;
    const data = (await tensor.data()) as Float32Array | Int32Array | Uint8Array;
    return { dtype: this.dtype, shape: [...this.shape], data: fromTfjsData(this.dtype, data, copyOnRead) };
  }

  assertLive(): void {
    const tensorGone = 'tensor' in this.content && this.content.tensor.isDisposed;
    if (this.disposed || tensorGone) {
      throw new BackendError(`A ${this.dtype} ${formatShape(this.shape)} tfjs device tensor was used after dispose(); keep it alive until its last run.`);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if ('tensor' in this.content) this.content.tensor.dispose();
  }
}
