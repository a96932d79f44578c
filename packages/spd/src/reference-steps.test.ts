import { createOnnxBackend } from '@nnd/backend-onnx';
import {
  add,
  evaluateGraph,
  geluTanh,
  grad,
  Graph,
  hostTensor,
  matmul,
  readSafetensors,
  reshape,
  toTypedArray,
  type DeviceTensor,
  type Feed,
  type HostTensor,
  type Tensor,
  type TensorMap,
} from '@nnd/core';
import { batchInputName, buildTrainingStep, frozenInputName, isConstantSchedule, lrScale, lrScaleInputName, randomInputName, stateInputName, stateOutputName, type LrSchedule } from '@nnd/train';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createSpd, type SpdDecomposition } from './spd-decomposition.js';
import type { MatrixProduct, SpdTarget } from './spd-target.js';
import { tmsTarget } from './tms.js';

/**
 * Three SPD training steps against the PyTorch oracle (bench/pytorch/spd_step.py,
 * written from goodfire-ai/spd; layout in fixtures/reference-steps/README.md):
 * the recorded random sources are fed in, and the losses, the step-0
 * gradients and the parameters after each step must come out as recorded.
 */
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'reference-steps');
const CASES = ['tms', 'tms_vector_mlp_no_delta', 'mlp_kl', 'mlp_kl_shared_mlp', 'mlp_kl_vector_mlp_no_delta'];

interface Fixture {
  json: any;
  tensors: Map<string, HostTensor>;
}

function load(name: string): Fixture {
  const contents = readSafetensors(new Uint8Array(readFileSync(join(FIXTURES, `${name}.safetensors`))));
  const tensors = new Map<string, HostTensor>();
  for (const [key, tensor] of contents.tensors) tensors.set(key, hostTensor('float32', tensor.shape, Float32Array.from(toTypedArray(tensor) as Float32Array)));
  return { json: JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')), tensors };
}

/** nnd's CI parameter names from the oracle's (`ci.in.W` is layer 0, `ci.out.W` layer 1). */
const nndName = (name: string) => name.replace(/\.ci\.in\.(W|b)$/, '.ci.$10').replace(/\.ci\.out\.(W|b)$/, '.ci.$11');

/** The MLP-in-a-residual-stream target: logits = (x + gelu_tanh(x W_in + b_in) W_out + b_out) W_U. */
function mlpTarget(fixture: Fixture, seq: number, width: number): SpdTarget {
  const weight = (name: string) => fixture.tensors.get(`target.${name}`)!;
  const names = ['blocks.0.mlp.W_in', 'blocks.0.mlp.b_in', 'blocks.0.mlp.W_out', 'blocks.0.mlp.b_out', 'unembed.W_U'];
  return {
    name: 'mlp_lm',
    inputs: [{ hook: 'x', width: seq * width }],
    positions: (rows) => [rows, seq],
    matrices: new Map([
      ['blocks.0.mlp.W_in', { dIn: width, dOut: weight('blocks.0.mlp.W_in').shape[1] }],
      ['blocks.0.mlp.W_out', { dIn: weight('blocks.0.mlp.W_out').shape[0], dOut: width }],
    ]),
    weights: () => Object.fromEntries(names.map((name) => [name, weight(name)])),
    weightOf: (module) => module,
    outputLoss: 'kl',
    forward(_graph, inputs: TensorMap, frozen: TensorMap, products: Readonly<Record<string, MatrixProduct>>): Tensor {
      const product = (name: string, x: Tensor) => (products[name] ?? matmul)(x, frozen[name]);
      const x = reshape(inputs.x, [-1, seq, width]);
      const hidden = geluTanh(add(product('blocks.0.mlp.W_in', x), frozen['blocks.0.mlp.b_in']));
      return matmul(add(x, add(product('blocks.0.mlp.W_out', hidden), frozen['blocks.0.mlp.b_out'])), frozen['unembed.W_U']);
    },
  };
}

function spdFor(fixture: Fixture): { spd: SpdDecomposition; rows: number; input: (step: number) => HostTensor } {
  const { config, modules } = fixture.json;
  const losses = Object.fromEntries((config.losses as any[]).map((loss) => [loss.name, loss]));
  const coeff = (name: string) => losses[name]?.coeff ?? 0;
  const importance = losses.importance_minimality ?? {};
  const pgd = losses.pgd_recon ?? {};
  const spdConfig = {
    modules: (modules as any[]).map(({ name, C }) => ({ name, C })),
    ci_fn_type: config.ci_fn,
    ci_fn_hidden_dims: [config.ci_hidden],
    use_delta_component: config.use_delta_component,
    n_mask_samples: config.n_mask_samples,
    faithfulness_coeff: coeff('faithfulness'),
    stochastic_recon_coeff: coeff('stochastic_recon'),
    stochastic_recon_layerwise_coeff: coeff('stochastic_recon_layerwise'),
    stochastic_recon_subset_coeff: coeff('stochastic_recon_subset'),
    importance_minimality_coeff: coeff('importance_minimality'),
    pnorm: importance.pnorm ?? 2,
    importance_minimality_beta: importance.beta ?? 0,
    p_anneal_final_p: importance.p_anneal_final_p ?? null,
    p_anneal_start_frac: importance.p_anneal_start_frac ?? 1,
    p_anneal_end_frac: importance.p_anneal_end_frac ?? 1,
    importance_minimality_eps: importance.eps ?? 1e-12,
    pgd_recon_coeff: coeff('pgd_recon'),
    pgd_init: pgd.init ?? 'random',
    pgd_step_size: pgd.step_size ?? 0.5,
    pgd_n_steps: pgd.n_steps ?? 4,
    pgd_mask_scope: pgd.mask_scope ?? 'shared_across_batch',
    pgd_routing: pgd.routing ?? 'all',
    grad_clip_norm_components: config.grad_clip_norm_components ?? null,
    grad_clip_norm_ci_fns: config.grad_clip_norm_ci_fns ?? null,
    ci_alive_threshold: fixture.json.ci_alive_threshold,
  };
  const first = fixture.tensors.get('batch0.input')!;
  if (config.model === 'tms') {
    const target = tmsTarget({ W: fixture.tensors.get('target.linear1.W')!, W2: fixture.tensors.get('target.linear2.W')!, b: fixture.tensors.get('target.linear2.b')! });
    return { spd: createSpd(target, spdConfig), rows: first.shape[0], input: (step) => fixture.tensors.get(`batch${step}.input`)! };
  }
  const [rows, seq, width] = first.shape;
  const input = (step: number) => {
    const tensor = fixture.tensors.get(`batch${step}.input`)!;
    return hostTensor('float32', [rows, seq * width], tensor.data as Float32Array);
  };
  return { spd: createSpd(mlpTarget(fixture, seq, width), spdConfig), rows, input };
}

/**
 * The oracle's random sources under nnd's names. Routings are stored as
 * masks; nnd draws uniform_k_subset from uniforms (an order per module and
 * position, and u with k = floor(u M) + 1), so each mask becomes uniforms
 * that route exactly those modules.
 */
function randomFeeds(fixture: Fixture, spd: SpdDecomposition, step: number): Record<string, HostTensor> {
  const prefix = `batch${step}.`;
  const source = (name: string) => {
    const tensor = fixture.tensors.get(prefix + name);
    if (tensor === undefined) throw new Error(`fixture has no ${prefix + name}`);
    return tensor;
  };
  const LOSS_NAMES: Record<string, string> = { stochastic: 'stochastic_recon', layerwise: 'stochastic_recon_layerwise', subset: 'stochastic_recon_subset', pgd: 'pgd_recon' };
  const routings = new Map<string, { order: Float32Array[]; k: Float32Array }>();
  const routingOf = (name: string) => {
    if (!routings.has(name)) {
      const mask = source(name);
      const modules = spd.modules.length;
      const positions = mask.data.length / modules;
      const order = spd.modules.map(() => new Float32Array(positions));
      const k = new Float32Array(positions);
      for (let position = 0; position < positions; position++) {
        let routed = 0;
        for (let module = 0; module < modules; module++) {
          const on = mask.data[module * positions + position] === 1;
          routed += on ? 1 : 0;
          order[module][position] = (on ? 0 : 0.5) + (module + 1) / (2 * modules + 2);
        }
        k[position] = (routed - 0.5) / modules;
      }
      routings.set(name, { order, k });
    }
    return routings.get(name)!;
  };
  const shapes = spd.randomInputs!(0 + fixture.tensors.get(`${prefix}input`)!.shape[0]);
  const feeds: Record<string, HostTensor> = {};
  for (const [name, shape] of Object.entries(shapes)) {
    const parts = name.split('.');
    const loss = LOSS_NAMES[parts[0]];
    const isPgd = parts[0] === 'pgd';
    const sample = isPgd ? '' : `${parts[1]}.`;
    const rest = parts.slice(isPgd ? 1 : 2).join('.');
    const routingName = `${loss}.${sample}routing`;
    let data: Float32Array;
    if (rest === 'k') data = routingOf(routingName).k;
    else if (rest.endsWith('.order')) data = routingOf(routingName).order[spd.modules.findIndex(({ name: module }) => `${module}.order` === rest)];
    else if (rest.endsWith('.delta')) data = source(`${loss}.${sample}${rest.slice(0, -'.delta'.length)}.r_delta`).data as Float32Array;
    else data = source(`${loss}.${sample}${rest}`).data as Float32Array;
    feeds[name] = hostTensor('float32', shape, data);
  }
  return feeds;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]));
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  }
  expect(worst / Math.max(scale, 1e-30), `${what}: worst ${worst} at scale ${scale}`).toBeLessThan(tolerance);
}

describe.each(CASES)('SPD reference steps: %s', (name) => {
  const fixture = load(name);
  const { spd, rows, input } = spdFor(fixture);
  const parameterNames = [...fixture.json.component_parameters, ...fixture.json.ci_fn_parameters] as string[];
  const initial = Object.fromEntries(parameterNames.map((parameter) => [nndName(parameter), fixture.tensors.get(`initial.${parameter}`)!]));
  const inputHook = spd.reads[0].hook;

  it("gives the oracle's losses and step-0 gradients", () => {
    const graph = new Graph();
    const params = Object.fromEntries(Object.entries(initial).map(([parameter, tensor]) => [parameter, graph.input(`param.${parameter}`, tensor.shape)]));
    const frozen = Object.fromEntries(Object.entries(spd.target.weights()).map(([weight, tensor]) => [weight, graph.constant(tensor)]));
    const random = Object.fromEntries(Object.entries(randomFeeds(fixture, spd, 0)).map(([random, tensor]) => [random, graph.constant(tensor)]));
    const inputs = { [inputHook]: graph.constant(input(0)) };
    const forward = spd.forward(graph, { inputs, targets: {} }, params, {}, { frozen, random, progress: graph.scalar(fixture.json.steps[0].current_frac) });
    const total = Object.values(forward.losses).reduce((sum, term) => add(sum, term));
    const names = Object.keys(params);
    const gradients = grad(
      total,
      names.map((parameter) => params[parameter]),
    );
    const lossNames = Object.keys(fixture.json.steps[0].losses);
    const values = evaluateGraph(
      graph,
      [total, ...lossNames.map((loss) => forward.metrics[`${loss}_loss_unweighted`]), ...gradients],
      Object.fromEntries(Object.entries(initial).map(([parameter, tensor]) => [`param.${parameter}`, tensor])),
    );
    expectClose([values[0].data[0] as number], [fixture.json.steps[0].total_loss], 1e-5, 'total loss');
    lossNames.forEach((loss, index) => expectClose([values[1 + index].data[0] as number], [fixture.json.steps[0].losses[loss]], 1e-5, loss));
    for (const [l0Module, l0] of Object.entries(fixture.json.steps[0].l0 as Record<string, number>)) {
      expect(
        evaluateGraph(graph, [forward.metrics[`l0.${l0Module}`]], Object.fromEntries(Object.entries(initial).map(([parameter, tensor]) => [`param.${parameter}`, tensor])))[0].data[0],
      ).toBeCloseTo(l0, 6);
    }
    parameterNames.forEach((parameter) => {
      const index = names.indexOf(nndName(parameter));
      expectClose(values[1 + lossNames.length + index].data as Float64Array, fixture.tensors.get(`grad0.${parameter}`)!.data as Float32Array, 1e-4, `grad0.${parameter}`);
    });
  });

  it("takes the oracle's three AdamW steps (schedule, p annealing, clipping per group)", async () => {
    const { config } = fixture.json;
    const schedule: LrSchedule = { kind: config.lr_schedule.fn_type, warmupFrac: config.lr_schedule.warmup_pct, finalFrac: config.lr_schedule.final_val_frac };
    const frozenTensors = spd.target.weights();
    const step = buildTrainingStep(
      [
        {
          decomposition: spd,
          params: Object.fromEntries(Object.entries(initial).map(([parameter, tensor]) => [parameter, { shape: tensor.shape, dtype: 'float32' as const }])),
          state: {},
          adam: { lr: config.lr_schedule.start_val, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
          maxGradNorm: 1e30,
          lrSchedule: schedule,
          frozen: Object.fromEntries(Object.entries(frozenTensors).map(([weight, tensor]) => [weight, { shape: tensor.shape, dtype: 'float32' as const }])),
        },
      ],
      rows,
      [],
      { totalSteps: config.total_steps },
    );
    const backend = createOnnxBackend();
    const program = await backend.compile(step.graph, { outputs: step.outputs });
    const zeros = (tensor: HostTensor) => hostTensor('float32', tensor.shape, new Float32Array(tensor.data.length));
    let state: Record<string, Feed> = {};
    for (const [parameter, tensor] of Object.entries(initial)) {
      state[stateInputName(0, 'param', parameter)] = tensor;
      state[stateInputName(0, 'adam_m', parameter)] = zeros(tensor);
      state[stateInputName(0, 'adam_v', parameter)] = zeros(tensor);
    }
    const constants = Object.fromEntries(Object.entries(frozenTensors).map(([weight, tensor]) => [frozenInputName(0, weight), tensor]));
    for (let s = 0; s < fixture.json.n_steps; s++) {
      const random = Object.fromEntries(Object.entries(randomFeeds(fixture, spd, s)).map(([key, tensor]) => [randomInputName(0, key), tensor]));
      const outputs = await program.run({
        ...state,
        ...constants,
        ...random,
        [batchInputName(inputHook)]: input(s),
        step: hostTensor('float64', [], [s + 1]),
        ...(isConstantSchedule(schedule) ? {} : { [lrScaleInputName(0)]: hostTensor('float64', [], [lrScale(s, config.total_steps, schedule)]) }),
      });
      expectClose([Number((await outputs[Object.keys(outputs).find((key) => key.endsWith('.metric.loss'))!].toHost()).data[0])], [fixture.json.steps[s].total_loss], 1e-5, `step ${s} loss`);
      const next: Record<string, DeviceTensor> = {};
      for (const kind of ['param', 'adam_m', 'adam_v'] as const) {
        for (const parameter of Object.keys(initial)) next[stateInputName(0, kind, parameter)] = outputs[stateOutputName(0, kind, parameter)];
      }
      for (const parameter of parameterNames) {
        const actual = (await next[stateInputName(0, 'param', nndName(parameter))].toHost()).data as Float32Array;
        expectClose(actual, fixture.tensors.get(`step${s}.${parameter}`)!.data as Float32Array, 1e-4, `step${s}.${parameter}`);
      }
      state = next;
    }
    await program.dispose();
  });
});
