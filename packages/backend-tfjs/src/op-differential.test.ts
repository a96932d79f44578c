import { createOnnxBackend } from '@nnd/backend-onnx';
import { DTypeError, OP_NAMES, type Backend, type Graph, type Tensor } from '@nnd/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OP_CASES, SYMBOL_SIZES, buildCase, expectMatches, feedsFor } from '../../backend-onnx/src/op-cases.test-support.js';
import { partitionForHost } from './host-partition.js';
import { createTfjsBackend } from './index.js';

/** Whether the tfjs backend refuses a graph: float64 computed from tfjs tensors (tfjs has no float64). */
function refused(graph: Graph, outputs: Record<string, Tensor>): boolean {
  try {
    partitionForHost(graph.ancestors(Object.values(outputs)), new Set(Object.values(outputs)));
    return false;
  } catch (error) {
    if (error instanceof DTypeError) return true;
    throw error;
  }
}

const BUILT = OP_CASES.map((opCase) => ({ opCase, ...buildCase(opCase) }));
// float64 cases fed float64 run their float64 nodes on the host (core's reference interpreter): they check that route.
const CASES = BUILT.filter(({ graph, outputs }) => !refused(graph, outputs));

it('refuses only the op cases that widen tfjs data to float64', () => {
  expect(BUILT.filter(({ graph, outputs }) => refused(graph, outputs)).map(({ opCase }) => opCase.label)).toEqual(['Cast float32 to float64']);
});

// Every float32 / int64 / bool op case on tfjs and on onnxruntime CPU, with the
// same random feeds and every set of symbol sizes (one program, several batch sizes).
describe.each(['wasm', 'cpu'] as const)('tfjs %s agrees with backend-onnx on every op case', (runtime) => {
  const onnx = createOnnxBackend({ device: 'cpu', threads: 1 });
  let tfjs: Backend;
  beforeAll(async () => {
    tfjs = await createTfjsBackend({ runtime });
  });
  afterAll(() => Promise.all([onnx.dispose(), tfjs.dispose()]));

  it('covers every op of the IR', () => {
    const covered = new Set(CASES.map(({ opCase }) => opCase.op));
    expect(OP_NAMES.filter((op) => !covered.has(op))).toEqual([]);
  });

  it.each(CASES.map((entry) => [entry.opCase.label, entry] as const))('%s', async (label, { opCase, graph, outputs }) => {
    const [expectedProgram, actualProgram] = await Promise.all([onnx.compile(graph, { outputs }), tfjs.compile(graph, { outputs })]);
    for (const [index, sizes] of SYMBOL_SIZES.entries()) {
      const feeds = feedsFor(opCase, sizes, 7919 * (index + 1));
      const [expected, actual] = [await expectedProgram.run(feeds), await actualProgram.run(feeds)];
      expect(Object.keys(actual).sort()).toEqual(Object.keys(outputs).sort());
      for (const name of Object.keys(outputs)) {
        expectMatches(await actual[name].toHost(), await expected[name].toHost(), `${label} '${name}' with ${JSON.stringify(sizes)}`, opCase.tolerance);
        actual[name].dispose();
      }
    }
    await Promise.all([expectedProgram.dispose(), actualProgram.dispose()]);
  });
});
