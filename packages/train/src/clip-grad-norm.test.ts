import { createOnnxBackend } from '@nnd/backend-onnx';
import { clipGradNorm, createReferenceBackend, Graph, hostTensor, type Backend } from '@nnd/core';
import { describe, expect, it } from 'vitest';

/** Gradients a = [3, 4] and b = [[12]]: global norm sqrt(9 + 16 + 144) = 13. */
async function clip(backend: Backend, maxNorm: number) {
  const graph = new Graph();
  const a = graph.input('a', [2]);
  const b = graph.input('b', [1, 1]);
  const { gradients, totalNorm } = clipGradNorm({ a, b }, maxNorm);
  const program = await backend.compile(graph, { outputs: { clipped_a: gradients.a, clipped_b: gradients.b, total_norm: totalNorm } });
  const outputs = await program.run({ a: hostTensor('float32', [2], [3, 4]), b: hostTensor('float32', [1, 1], [12]) });
  const read = async (name: string) => Array.from((await outputs[name].toHost()).data as Float32Array);
  return { a: await read('clipped_a'), b: await read('clipped_b'), norm: (await read('total_norm'))[0] };
}

describe.each([
  ['reference', createReferenceBackend],
  ['onnx cpu', () => createOnnxBackend({ device: 'cpu' })],
] as const)('clipGradNorm on %s', (_, makeBackend) => {
  it('scales every gradient by max_norm / (total_norm + 1e-6) when the norm is above the limit', async () => {
    const result = await clip(makeBackend(), 6.5);
    expect(result.norm).toBeCloseTo(13, 5);
    const scale = 6.5 / (13 + 1e-6);
    expect(result.a).toEqual([expect.closeTo(3 * scale, 6), expect.closeTo(4 * scale, 6)]);
    expect(result.b).toEqual([expect.closeTo(12 * scale, 6)]);
    // The clipped gradients have the limit as their norm (less 1e-6 relative), as in torch.
    expect(Math.hypot(...result.a, ...result.b)).toBeCloseTo(6.5, 5);
  });

  it('leaves gradients unchanged when the norm is below the limit', async () => {
    const result = await clip(makeBackend(), 100);
    expect(result.a).toEqual([3, 4]);
    expect(result.b).toEqual([12]);
  });

  it('leaves gradients unchanged when the norm equals the limit up to the 1e-6 guard', async () => {
    const result = await clip(makeBackend(), 13);
    expect(result.a[0]).toBeCloseTo(3, 6);
    expect(result.a[0]).toBeLessThanOrEqual(3);
  });
});
