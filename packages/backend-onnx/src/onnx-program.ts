import { BackendError, validateFeeds, type DType, type DeviceTensor, type Feed, type Program } from '@nnd/core';
import type { OnnxModel } from './compile-to-onnx.js';
import type { OnnxDeviceTensor } from './onnx-device-tensor.js';
import type { OnnxRuntimeTensor } from './onnx-runtime.js';
import { runError, type OnnxDevice } from './runtime-errors.js';
import type { SessionLease } from './session-cache.js';

/** What a program needs from its backend. */
export interface ProgramHost {
  readonly device: OnnxDevice;
  toRuntimeTensor(feed: Feed): Promise<OnnxRuntimeTensor>;
  wrap(value: OnnxRuntimeTensor, dtype: DType): OnnxDeviceTensor;
  release(lease: SessionLease): Promise<void>;
}

export class OnnxProgram implements Program {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  private disposed = false;

  constructor(
    private readonly model: OnnxModel,
    /** Every input of the compiled graph, needed or not: feeds may name any of them. */
    private readonly graphInputNames: ReadonlySet<string>,
    private readonly lease: SessionLease,
    private readonly host: ProgramHost,
  ) {
    this.inputNames = model.inputs.map((input) => input.name);
    this.outputNames = model.outputs.map((output) => output.name);
  }

  async run(feeds: Record<string, Feed>): Promise<Record<string, DeviceTensor>> {
    if (this.disposed || this.lease.released) throw new BackendError('This program was disposed (or its backend was); compile the graph again.');
    validateFeeds(this.model.inputs, feeds, this.graphInputNames);
    const runtimeFeeds: Record<string, OnnxRuntimeTensor> = {};
    for (const input of this.model.inputs) runtimeFeeds[input.onnxName] = await this.host.toRuntimeTensor(feeds[input.name]);
    let results: Record<string, unknown>;
    try {
      results = await this.lease.session.run(runtimeFeeds);
    } catch (error) {
      throw runError(error, this.host.device);
    }
    const outputs: Record<string, DeviceTensor> = {};
    for (const output of this.model.outputs) outputs[output.name] = this.host.wrap(results[output.name] as OnnxRuntimeTensor, output.dtype);
    return outputs;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.host.release(this.lease);
  }
}
