import { createOnnxBackend } from '@nnd/backend-onnx';
import { createSae } from '@nnd/sae';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCheckpoint } from './checkpoint.js';
import { gaussianSource } from './synthetic-source.test-support.js';
import { trainDecomposition } from './train-decomposition.js';

// WebGPU needs an adapter (a GPU, or Mesa 25's lavapipe on CPU-only machines), so this runs only on request.
const enabled = process.env.NND_WEBGPU === '1';
const title = enabled ? 'trainDecomposition on backend-onnx WebGPU' : 'trainDecomposition on backend-onnx WebGPU (skipped: set NND_WEBGPU=1 where Vulkan works)';

describe.skipIf(!enabled)(title, () => {
  it('keeps state in GPU buffers between steps and ends where the CPU run ends', async () => {
    const config = { num_tokens: 64 * 5, batch_size: 64, lr: 0.01, checkpoint_freq: 5 };
    const make = () => createSae({ architecture: 'topk', act_size: 16, dict_size: 64, top_k: 4 });
    const locations = new Set<string>();
    const gpuBackend = createOnnxBackend({ device: 'webgpu' });
    const directory = await mkdtemp(join(tmpdir(), 'nnd-webgpu-'));
    try {
      const gpu = await trainDecomposition(make(), gaussianSource(64, 16, 1), config, {
        backend: {
          ...gpuBackend,
          specificationVersion: gpuBackend.specificationVersion,
          name: gpuBackend.name,
          capabilities: gpuBackend.capabilities,
          upload: gpuBackend.upload.bind(gpuBackend),
          dispose: gpuBackend.dispose.bind(gpuBackend),
          async compile(graph, options) {
            const program = await gpuBackend.compile(graph, options);
            return {
              inputNames: program.inputNames,
              outputNames: program.outputNames,
              dispose: program.dispose.bind(program),
              async run(feeds) {
                const outputs = await program.run(feeds);
                for (const [name, tensor] of Object.entries(outputs)) if (name.includes('.next_param.')) locations.add(tensor.location);
                return outputs;
              },
            };
          },
        },
        checkpointDir: directory,
      });
      const cpu = await trainDecomposition(make(), gaussianSource(64, 16, 1), config, { backend: createOnnxBackend({ device: 'cpu' }) });
      expect([...locations]).toEqual(['gpu-buffer']);
      for (const name of Object.keys(cpu.params)) {
        const expected = cpu.params[name].data as Float32Array;
        (gpu.params[name].data as Float32Array).forEach((value, index) => expect(Math.abs(value - expected[index])).toBeLessThan(1e-5));
      }
      // Checkpoints download the device state.
      const saved = await readCheckpoint(join(directory, 'step_5'));
      expect(Array.from(saved.members[0].params.W_dec.data as Float32Array)).toEqual(Array.from(gpu.params.W_dec.data as Float32Array));
    } finally {
      await rm(directory, { recursive: true, force: true });
      await gpuBackend.dispose();
    }
  });
});
