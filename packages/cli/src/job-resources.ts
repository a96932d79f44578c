import type { Backend } from '@nnd/core';
import { HookedTransformer } from '@nnd/models';
import { createBackend } from './backend-choice.js';
import { modelLocation } from './model-source.js';
import type { RunConfig } from './run-config.js';

/**
 * Backends and models shared by the runs of one command (a sweep loads its
 * model once), released together by `dispose`.
 */
export class JobResources {
  /** `env.HF_ENDPOINT` (the Hugging Face client's variable) points hub downloads at a mirror. */
  constructor(private readonly env: Readonly<Record<string, string | undefined>> = process.env) {}

  private readonly backends = new Map<string, Promise<Backend>>();
  private readonly models = new Map<string, Promise<HookedTransformer>>();

  backend(config: Pick<RunConfig, 'backend' | 'device'>): Promise<Backend> {
    const key = `${config.backend}/${config.device}`;
    let backend = this.backends.get(key);
    if (backend === undefined) {
      backend = createBackend(config);
      this.backends.set(key, backend);
      // A failed start is not kept, so that the error is raised again, not a stale promise.
      backend.catch(() => this.backends.delete(key));
    }
    return backend;
  }

  async model(config: Pick<RunConfig, 'backend' | 'device' | 'model_name' | 'model_batch_size'>): Promise<HookedTransformer> {
    const key = `${config.backend}/${config.device}/${config.model_name}`;
    let model = this.models.get(key);
    if (model === undefined) {
      const backend = await this.backend(config);
      model = HookedTransformer.fromPretrained(modelLocation(config.model_name), { backend, modelBatchSize: config.model_batch_size, hubUrl: this.env.HF_ENDPOINT || undefined });
      this.models.set(key, model);
      model.catch(() => this.models.delete(key));
    }
    const loaded = await model;
    loaded.modelBatchSize = config.model_batch_size;
    return loaded;
  }

  async dispose(): Promise<void> {
    const models = await Promise.allSettled(this.models.values());
    for (const model of models) if (model.status === 'fulfilled') await model.value.dispose();
    const backends = await Promise.allSettled(this.backends.values());
    for (const backend of backends) if (backend.status === 'fulfilled') await backend.value.dispose();
    this.models.clear();
    this.backends.clear();
  }
}
