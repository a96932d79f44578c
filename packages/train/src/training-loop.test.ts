import { createOnnxBackend } from '@nnd/backend-onnx';
import type { Backend, HostTensor } from '@nnd/core';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { linearDecomposition } from './linear-decomposition.test-support.js';
import { gaussianSource } from './synthetic-source.test-support.js';
import { trainDecomposition } from './train-decomposition.js';

// A full collection on demand, as `node --expose-gc` gives one.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

describe('the training loop', () => {
  it('lets go of the host tensors it started from once they are uploaded', async () => {
    const backend = createOnnxBackend();
    // The first uploads are the start tensors (parameters, moments, state), drawn by the trainer; watch them.
    const uploaded: WeakRef<HostTensor['data']>[] = [];
    const watching: Backend = {
      specificationVersion: backend.specificationVersion,
      name: backend.name,
      capabilities: backend.capabilities,
      compile: (graph, options) => backend.compile(graph, options),
      upload: (tensor) => {
        uploaded.push(new WeakRef(tensor.data));
        return backend.upload(tensor);
      },
      dispose: () => backend.dispose(),
    };
    const alive: number[] = [];
    try {
      await trainDecomposition(
        linearDecomposition({ act_size: 6, dict_size: 4, l1_coeff: 0.01 }),
        gaussianSource(16, 6, 1),
        { num_tokens: 16 * 4, batch_size: 16, seed: 5 },
        {
          backend: watching,
          logger: {
            log(_metrics, step) {
              collectGarbage();
              alive[step] = uploaded.filter((ref) => ref.deref() !== undefined).length;
            },
          },
        },
      );
    } finally {
      await watching.dispose();
    }
    expect(uploaded.length).toBeGreaterThan(0);
    // After the first step the device's copies replace them: nothing in the loop may keep them (a 226 MB copy of a
    // TopK SAE at GPT-2-small size).
    expect(alive.slice(1)).toEqual([0, 0, 0]);
  });

  it('frees the host memory of the state a step replaces before the next step runs, unasked', async () => {
    const backend = createOnnxBackend();
    // Every output of every run, by step: the parameters, moments and state it hands to the next step, and the metrics.
    const outputsOfRun: WeakRef<object>[][] = [];
    const watching: Backend = {
      specificationVersion: backend.specificationVersion,
      name: backend.name,
      capabilities: backend.capabilities,
      compile: async (graph, options) => {
        const program = await backend.compile(graph, options);
        return {
          inputNames: program.inputNames,
          outputNames: program.outputNames,
          run: async (feeds) => {
            const outputs = await program.run(feeds);
            const refs: WeakRef<object>[] = [];
            for (const tensor of Object.values(outputs)) refs.push(new WeakRef((await tensor.toHost()).data));
            outputsOfRun.push(refs);
            return outputs;
          },
          dispose: () => program.dispose(),
        };
      },
      upload: (tensor) => backend.upload(tensor),
      dispose: () => backend.dispose(),
    };
    // W [2048, 3072] and its two Adam moments: 75 MB of state in host memory, above RELEASE_MIN_BYTES.
    const decomposition = linearDecomposition({ act_size: 2048, dict_size: 3072, l1_coeff: 0.01 });
    const previousAlive: number[] = [];
    try {
      await trainDecomposition(
        decomposition,
        gaussianSource(8, 2048, 1),
        { num_tokens: 8 * 4, batch_size: 8, seed: 5 },
        {
          backend: watching,
          logger: {
            log(_metrics, step) {
              // No collection here: whatever of the previous run is gone, the trainer freed.
              if (step > 0) previousAlive.push(outputsOfRun[step - 1].filter((ref) => ref.deref() !== undefined).length);
            },
          },
        },
      );
    } finally {
      await watching.dispose();
    }
    expect(outputsOfRun).toHaveLength(4);
    expect(previousAlive).toEqual([0, 0, 0]);
  });
});
