import { createReferenceBackend, type Graph, type Tensor } from '@nnd/core';
import { HookedTransformer, initializeParameters } from '@nnd/models';
import { describe, expect, it } from 'vitest';
import { buildEvaluationGraph } from './evaluation-graph.js';
import { identityDecomposition, TINY_CONFIG } from './tiny-model.test-support.js';

// Building graphs needs no trained weights and runs nothing.
const model = new HookedTransformer(TINY_CONFIG, initializeParameters(TINY_CONFIG, 1), { backend: createReferenceBackend() });
const memberAt = (hook: string) => ({ decomposition: identityDecomposition(TINY_CONFIG.hiddenSize, hook), params: {}, state: {} });

/** Nodes of `op` that the outputs depend on: what a backend compiles. */
function compiledCount(graph: Graph, outputs: Record<string, Tensor>, op: string, reading?: string): number {
  return graph.ancestors(Object.values(outputs)).filter((node) => node.op === op && (reading === undefined || node.inputs.some((input) => input === graph.inputs.get(reading)))).length;
}

describe('buildEvaluationGraph', () => {
  it('computes the blocks before the hook once and only the blocks after it once per intervention', () => {
    const { graph, outputs } = buildEvaluationGraph({ model, members: [memberAt('blocks.1.hook_resid_pre')], reconstruction: 'forward' });
    // Per block: Q, K, V, scores, pattern x V, W_O, W_in, W_out; then the unembedding. Block 0 once,
    // block 1 and the unembedding for the clean, reconstructed, zero- and mean-ablated passes.
    expect(compiledCount(graph, outputs, 'MatMul')).toBe(8 + 4 * (8 + 1));
    expect(compiledCount(graph, outputs, 'Gather', 'embed.W_E')).toBe(1);
  });

  it('shares the weight inputs among the passes and names each decomposition tensor by member', () => {
    const member = memberAt('blocks.0.hook_mlp_out');
    const second = { ...member, params: { scale: { dtype: 'float32' as const, shape: [1] } } };
    const { graph } = buildEvaluationGraph({ model, members: [member, second], reconstruction: 'forward' });
    const names = [...graph.inputs.keys()];
    expect(names.filter((name) => name === 'blocks.1.attn.W_Q')).toHaveLength(1);
    expect(names).toContain('member1.param.scale');
    expect(names).toContain('tokens');
  });
});
