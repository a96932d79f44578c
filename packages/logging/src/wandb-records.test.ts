import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { artifactUploads, historyLine, runUrl, summaryLine, wandbConfig } from './wandb-records.js';

describe('W&B records', () => {
  it('wrap the config as the Python client does', () => {
    expect(JSON.parse(wandbConfig({ lr: 3e-4, hook_point: 'blocks.8.hook_resid_pre' }))).toEqual({
      lr: { desc: null, value: 3e-4 },
      hook_point: { desc: null, value: 'blocks.8.hook_resid_pre' },
    });
  });

  it('write history lines with _step, _runtime, _timestamp and bare NaN / Infinity', () => {
    expect(historyLine(7, 1000.5, 1000, { loss: 0.25, l2_loss: Number.NaN, l1_loss: -Infinity })).toBe('{"loss":0.25,"l2_loss":NaN,"l1_loss":-Infinity,"_step":7,"_runtime":0.5,"_timestamp":1000.5}');
    expect(summaryLine({ loss: 1, note: 'x', nested: { a: [1] } })).toBe('{"loss":1,"note":"x","nested":{"a":[1]}}');
  });

  it('name artifact files by their place in the run directory, others under artifacts/<name>/', () => {
    const runDirectory = path.resolve('/runs/a');
    const items = artifactUploads(runDirectory, 'org/model_100', [path.join(runDirectory, 'checkpoints', 'step_100', 'w.safetensors'), path.resolve('/elsewhere/x.bin')], { step: 100 });
    expect(items.map((item) => item.name)).toEqual(['checkpoints/step_100/w.safetensors', 'artifacts/org__model_100/x.bin', 'artifacts/org__model_100/nnd-artifact.json']);
    expect(JSON.parse(Buffer.from(items[2]?.content ?? []).toString())).toEqual({
      name: 'org/model_100',
      type: 'model',
      files: ['checkpoints/step_100/w.safetensors', 'artifacts/org__model_100/x.bin'],
      metadata: { step: 100 },
    });
  });

  it('link the run page as @wandb/sdk does', () => {
    expect(runUrl('https://api.wandb.ai', 'lab', 'saes', 'abc12345')).toBe('https://wandb.ai/lab/saes/runs/abc12345');
  });
});
