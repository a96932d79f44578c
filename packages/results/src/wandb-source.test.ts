import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NndError } from '@nnd/core';
import { WandbError } from '@nnd/logging';
import { ResultsError } from './errors/index.js';
import { loadWandbRuns } from './wandb-source.js';
import { FIXTURE_PROJECT, startWandbTestServer } from './wandb-test-server.test-support.js';
import type { WandbTestServer } from './wandb-test-server.test-support.js';

const apiKey = 'a'.repeat(40);
let server: WandbTestServer;

beforeAll(async () => {
  server = await startWandbTestServer({ apiKey });
});
afterAll(async () => {
  await server.close();
});

describe('loadWandbRuns', () => {
  it('reads every page of runs, with config unwrapped and W&B bookkeeping dropped', async () => {
    server.requests.length = 0;
    const runs = await loadWandbRuns({ type: 'wandb', project: FIXTURE_PROJECT, apiKey, baseUrl: server.baseUrl, environment: {} });
    expect(runs.map((run) => run.origin.type === 'wandb' && run.origin.runId)).toEqual(['k3n1x0aa', 'p9d2mq1b', 'z4t7hc2c']);
    const [topk] = runs;
    expect(topk!.name).toBe('gpt2-small_blocks.8.hook_resid_pre_12288_topk_32_0.0003');
    expect(topk!.config).toMatchObject({ sae_type: 'topk', dict_size: 12288, top_k: 32, lr: 0.0003, hook_point: 'blocks.8.hook_resid_pre' });
    expect(topk!.config).not.toHaveProperty('_wandb');
    expect(topk!.summary).toMatchObject({ l0_norm: 31.99, l2_loss: 0.0712, 'performance/ce_degradation': -0.0431, normalized_mse: 0.0705 });
    expect(Object.keys(topk!.summary!).filter((key) => key.startsWith('_'))).toEqual([]);
    expect(topk!.origin).toEqual({ type: 'wandb', baseUrl: server.baseUrl, entity: 'patrickaaleask', project: 'batchtopk_comparison', runId: 'k3n1x0aa' });
    // Two pages of runs, then one history request per run.
    expect(server.requests.map((request) => request.operation)).toEqual(['Runs', 'Runs', 'RunFullHistory', 'RunFullHistory', 'RunFullHistory']);
    expect(server.requests[1]!.variables.cursor).toBe('cursor-p9d2mq1b');
    expect(server.requests[2]!.variables).toMatchObject({ name: 'k3n1x0aa', samples: 1000 });
    expect(server.requests.every((request) => request.authorization === `Basic ${Buffer.from(`api:${apiKey}`).toString('base64')}`)).toBe(true);
  });

  it('reads history rows by _step, with the bare NaN that W&B strings hold', async () => {
    const runs = await loadWandbRuns({ type: 'wandb', project: FIXTURE_PROJECT, apiKey, baseUrl: server.baseUrl, environment: {} });
    const batchTopK = runs[1]!;
    expect(batchTopK.history.map((row) => row.step)).toEqual([0, 1000, 2000, 3000, 4000, 122069]);
    expect(batchTopK.history[2]!.metrics.aux_loss).toBeNaN();
    expect(batchTopK.history[0]!.metrics).not.toHaveProperty('_runtime');
    // NaN inside summaryMetrics too (the jumprelu run's CE degradation).
    expect(runs[2]!.summary!['performance/ce_degradation']).toBeNaN();
  });

  it('skips history when asked, and takes the key and base URL from the environment', async () => {
    server.requests.length = 0;
    const runs = await loadWandbRuns({
      type: 'wandb',
      project: FIXTURE_PROJECT,
      history: false,
      environment: { WANDB_API_KEY: apiKey, WANDB_BASE_URL: `${server.baseUrl}/` },
    });
    expect(runs).toHaveLength(3);
    expect(runs.every((run) => run.history.length === 0)).toBe(true);
    expect(server.requests.map((request) => request.operation)).toEqual(['Runs', 'Runs']);
  });

  it('throws WandbError for a wrong key, naming the status', async () => {
    const error = await loadWandbRuns({ type: 'wandb', project: FIXTURE_PROJECT, apiKey: 'b'.repeat(40), baseUrl: server.baseUrl, environment: {} }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(WandbError);
    expect(error).toMatchObject({ status: 401, retryable: false });
    expect((error as Error).message).toMatch(/401.*API key/);
    expect(NndError.isInstance(error)).toBe(true);
  });

  it('marks server errors retryable', async () => {
    server.failWith = 503;
    try {
      await expect(loadWandbRuns({ type: 'wandb', project: FIXTURE_PROJECT, apiKey, baseUrl: server.baseUrl, environment: {} })).rejects.toMatchObject({ status: 503, retryable: true });
    } finally {
      server.failWith = undefined;
    }
  });

  it('throws ResultsError for a project the server does not have', async () => {
    await expect(loadWandbRuns({ type: 'wandb', project: 'someone/else', apiKey, baseUrl: server.baseUrl, environment: {} })).rejects.toThrow(/no project 'someone\/else'/);
  });

  it('throws WandbError for an unreachable server', async () => {
    // Port 9 (discard) on loopback has no listener here: the connection is refused at once.
    await expect(loadWandbRuns({ type: 'wandb', project: FIXTURE_PROJECT, apiKey, baseUrl: 'http://127.0.0.1:9', environment: {} })).rejects.toBeInstanceOf(WandbError);
  });

  it('checks its arguments before sending anything', async () => {
    const load = (source: Partial<Parameters<typeof loadWandbRuns>[0]>) => loadWandbRuns({ type: 'wandb', project: FIXTURE_PROJECT, baseUrl: server.baseUrl, environment: {}, ...source });
    await expect(load({ apiKey: undefined })).rejects.toThrow(/WANDB_API_KEY/);
    await expect(load({ apiKey, project: 'no-entity' })).rejects.toThrow(/'entity\/project'/);
    await expect(load({ apiKey, pageSize: 0 })).rejects.toBeInstanceOf(ResultsError);
  });
});
