import { createOnnxBackend } from '@nnd/backend-onnx';
import { createReferenceBackend, evaluateGraph, Graph, hostTensor, Rng, type HostTensor } from '@nnd/core';
import { HookedTransformer, initializeParameters, type TransformerConfig } from '@nnd/models';
import { trainDecomposition } from '@nnd/train';
import { describe, expect, it } from 'vitest';
import { componentNames, createSpd, reconLoss, spdActivations } from './spd-decomposition.js';
import { SpdModelError } from './spd-model-error.js';
import { expandModules, transformerTarget } from './transformer-target.js';

const config: TransformerConfig = {
  layerCount: 2,
  hiddenSize: 16,
  headCount: 4,
  keyValueHeadCount: 4,
  headSize: 4,
  mlpSize: 32,
  vocabSize: 40,
  contextLength: 32,
  normEpsilon: 1e-5,
  bosTokenId: 0,
  eosTokenId: 1,
  modelType: 'gpt2',
  normalization: 'layerNorm',
  activation: 'gelu_new',
  positional: 'learned',
  rotaryDim: 0,
  rotaryBase: 0,
  parallelResidual: false,
  gatedMlp: false,
  tiedEmbeddings: true,
  attentionBias: true,
  mlpBias: true,
};
const seq = 6;
const model = new HookedTransformer(config, initializeParameters(config, 2), { backend: createReferenceBackend() });
const target = transformerTarget(model, seq, 'tiny');
const tokens = (rows: number, seed: number) => BigInt64Array.from(new Rng(seed).uniform(rows * seq), (value) => BigInt(Math.floor(value * config.vocabSize)));

describe("SPD of a transformer's matrices", () => {
  it('expands module shorthands and refuses names that are not matrices', () => {
    expect(expandModules(target, 'mlp')).toEqual(['blocks.0.mlp.W_in', 'blocks.0.mlp.W_out', 'blocks.1.mlp.W_in', 'blocks.1.mlp.W_out']);
    expect(expandModules(target, 'blocks.1.attn.W_Q, blocks.0.mlp.W_in')).toEqual(['blocks.1.attn.W_Q', 'blocks.0.mlp.W_in']);
    expect(() => createSpd(target, { modules: [{ name: 'blocks.0.mlp.b_in', C: 4 }] })).toThrow(SpdModelError);
    expect(() => createSpd(target, { modules: [{ name: 'blocks.0.mlp.b_in', C: 4 }] })).toThrow(
      /'blocks.0.mlp.b_in' is not a weight matrix of tiny; its matrices are blocks.\{0-1\}.\{attn.W_Q, attn.W_K, attn.W_V, attn.W_O, mlp.W_in, mlp.W_out\}. Name modules as the model does \(e.g. blocks.0.attn.W_Q\)/,
    );
    // A shorthand that is not one, or a layer the model does not have, is named with the model's matrices before anything is built.
    expect(() => expandModules(target, 'mlp,attention')).toThrow(SpdModelError);
    expect(() => expandModules(target, 'mlp,attention')).toThrow(
      /spd_modules names 'attention', which is neither mlp, attn, all nor a weight matrix of tiny \(blocks.\{0-1\}.\{attn.W_Q, .*mlp.W_out\}\); write a comma-separated list of those, e.g. mlp or blocks.0.attn.W_Q,blocks.0.attn.W_K/,
    );
    expect(() => expandModules(target, 'blocks.2.mlp.W_in')).toThrow(/names 'blocks.2.mlp.W_in', which is neither/);
  });

  it('reproduces the model exactly with every mask at 1 plus the delta component, and not without the delta', () => {
    const spd = createSpd(target, { modules: expandModules(target, 'mlp').map((name) => ({ name, C: 8 })) });
    const params = spd.initialParams(new Rng(1));
    const graph = new Graph();
    const constant = (tensor: HostTensor) => graph.constant(tensor);
    const inputs = { tokens: constant(hostTensor('int64', [2, seq], tokens(2, 5))) };
    const frozen = Object.fromEntries(Object.entries(target.weights()).map(([name, tensor]) => [name, constant(tensor)]));
    const activations = spdActivations(graph, spd, inputs, Object.fromEntries(Object.entries(params).map(([name, tensor]) => [name, constant(tensor)])), frozen);
    const ones = (C: number) => constant(hostTensor('float32', [2, seq, C], new Float32Array(2 * seq * C).fill(1)));
    const deltaOnes = constant(hostTensor('float32', [2, seq], new Float32Array(2 * seq).fill(1)));
    const withDelta = activations.maskedOutput(Object.fromEntries(spd.modules.map(({ name, C }) => [name, { mask: ones(C), deltaMask: deltaOnes }])));
    const withoutDelta = activations.maskedOutput(Object.fromEntries(spd.modules.map(({ name, C }) => [name, { mask: ones(C) }])));
    const [exact, off] = evaluateGraph(graph, [reconLoss('kl', withDelta, activations.targetOutput), reconLoss('kl', withoutDelta, activations.targetOutput)], {});
    expect(Math.abs(exact.data[0] as number)).toBeLessThan(1e-5);
    expect(off.data[0] as number).toBeGreaterThan(1e-3);
  });

  it('trains through the frozen model from a stream of token batches (onnx backend)', async () => {
    const spd = createSpd(target, {
      modules: expandModules(target, 'mlp').map((name) => ({ name, C: 8 })),
      stochastic_recon_subset_coeff: 0.5,
      pgd_recon_coeff: 0.5,
      pgd_n_steps: 2,
      faithfulness_coeff: 1,
      importance_minimality_coeff: 1e-3,
      p_anneal_final_p: 0.5,
      p_anneal_start_frac: 0,
      p_anneal_end_frac: 1,
      grad_clip_norm_components: 1,
      grad_clip_norm_ci_fns: 1,
    });
    let batch = 0;
    const logged: Record<string, number>[] = [];
    const result = await trainDecomposition(
      spd,
      { nextBatch: async () => ({ tokens: tokens(4, batch++) }) },
      {
        num_tokens: 3 * 4,
        batch_size: 4,
        lr: 1e-3,
        lr_schedule: 'cosine',
        lr_warmup_frac: 0.34,
        seed: 1,
      },
      { backend: createOnnxBackend(), handleSignals: false, logger: { log: (metrics) => void logged.push({ ...metrics }) } },
    );
    expect(logged).toHaveLength(3);
    for (const metrics of logged) {
      for (const name of ['loss', 'faithfulness_loss', 'stochastic_recon_loss', 'stochastic_recon_layerwise_loss', 'stochastic_recon_subset_loss', 'importance_minimality_loss', 'pgd_recon_loss']) {
        expect(Number.isFinite(metrics[name]), name).toBe(true);
      }
    }
    const initial = spd.initialParams(new Rng(1));
    const V = componentNames('blocks.0.mlp.W_in').V;
    // The first step is inside the warm-up (rate 0); the later two move V.
    expect(Array.from(result.params[V].data as Float32Array)).not.toEqual(Array.from(initial[V].data as Float32Array));
  });
});
