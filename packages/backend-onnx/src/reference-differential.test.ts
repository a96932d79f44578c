import { evaluateGraph } from '@nnd/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createOnnxBackend } from './onnx-backend.js';
import { OP_CASES, SYMBOL_SIZES, buildCase, expectMatches, feedsFor } from './op-cases.test-support.js';

// Every op case on onnxruntime CPU against the reference interpreter, each
// program run with every set of symbol sizes (one compiled session, several batch sizes).
describe('backend-onnx CPU matches the reference interpreter', () => {
  const backend = createOnnxBackend({ device: 'cpu' });
  afterAll(() => backend.dispose());

  it.each(OP_CASES.map((opCase) => [opCase.label, opCase] as const))('%s', async (label, opCase) => {
    const { graph, outputs } = buildCase(opCase);
    const program = await backend.compile(graph, { outputs });
    for (const [index, sizes] of SYMBOL_SIZES.entries()) {
      const feeds = feedsFor(opCase, sizes, 7919 * (index + 1));
      const expected = evaluateGraph(graph, Object.values(outputs), feeds);
      const actual = await program.run(feeds);
      expect(Object.keys(actual).sort()).toEqual(Object.keys(outputs).sort());
      for (const [position, name] of Object.keys(outputs).entries()) {
        expectMatches(await actual[name].toHost(), expected[position], `${label} '${name}' with ${JSON.stringify(sizes)}`, opCase.tolerance);
      }
    }
    await program.dispose();
  });
});
