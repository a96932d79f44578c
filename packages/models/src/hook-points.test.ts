import { HookNotFoundError, NndError } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { closestNames, editDistance } from './edit-distance.js';
import { hookName, hookPointNames, hookShape, locateHook } from './hook-points.js';
import { TEST_CONFIGS } from './test-configs.test-support.js';

describe('hook names', () => {
  it('are built from structure, as TransformerLens names them', () => {
    expect(hookName('resid_pre', 8)).toBe('blocks.8.hook_resid_pre');
    expect(hookName('pattern', 0)).toBe('blocks.0.attn.hook_pattern');
    expect(hookName('post', 3)).toBe('blocks.3.mlp.hook_post');
    expect(hookName('ln1', 1)).toBe('blocks.1.ln1.hook_normalized');
    expect(hookName('embed')).toBe('hook_embed');
    expect(hookName('ln_final')).toBe('ln_final.hook_normalized');
  });

  it('reject unknown kinds and missing layers with NndErrors', () => {
    expect(() => hookName('resid' as never, 1)).toThrow(HookNotFoundError);
    expect(() => hookName('resid_pre' as never)).toThrow(NndError);
  });

  it('list what each architecture has', () => {
    const gpt2 = hookPointNames(TEST_CONFIGS.gpt2);
    expect(gpt2.slice(0, 3)).toEqual(['hook_embed', 'hook_pos_embed', 'blocks.0.hook_resid_pre']);
    expect(gpt2).toContain('blocks.1.hook_resid_mid');
    expect(gpt2).not.toContain('blocks.0.attn.hook_rot_q');
    expect(gpt2.at(-1)).toBe('ln_final.hook_normalized');
    const neox = hookPointNames(TEST_CONFIGS.gpt_neox);
    expect(neox).not.toContain('hook_pos_embed');
    expect(neox).not.toContain('blocks.0.hook_resid_mid');
    expect(neox).toContain('blocks.0.attn.hook_rot_k');
    expect(hookPointNames(TEST_CONFIGS.llama)).toContain('blocks.1.mlp.hook_pre_linear');
  });

  it('have documented shapes', () => {
    const { llama } = TEST_CONFIGS;
    expect(hookShape('blocks.0.attn.hook_q', llama, 'batch', 'seq')).toEqual(['batch', 'seq', 4, 4]);
    expect(hookShape('blocks.0.attn.hook_k', llama, 'batch', 'seq')).toEqual(['batch', 'seq', 2, 4]);
    expect(hookShape('blocks.0.attn.hook_pattern', llama, 'batch', 'seq')).toEqual(['batch', 4, 'seq', 'seq']);
    expect(hookShape('blocks.0.mlp.hook_post', llama, 'batch', 'seq')).toEqual(['batch', 'seq', 32]);
    expect(hookShape('blocks.0.hook_resid_pre', llama, 'batch', 'seq')).toEqual(['batch', 'seq', 16]);
  });

  it('unknown names name the closest valid ones', () => {
    const config = TEST_CONFIGS.gpt2;
    const valid = new Set(hookPointNames(config));
    expect(locateHook('blocks.1.hook_resid_pre', config, valid)).toEqual({ name: 'blocks.1.hook_resid_pre', layer: 1 });
    expect(locateHook('ln_final.hook_normalized', config, valid).layer).toBe(2);
    expect(locateHook('hook_embed', config, valid).layer).toBe(-1);
    let error: unknown;
    try {
      locateHook('blocks.1.hook_resid_pr', config, valid);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(HookNotFoundError);
    expect((error as Error).message).toContain("'blocks.1.hook_resid_pre'");
    expect(() => locateHook('blocks.7.hook_resid_pre', config, valid)).toThrow(/blocks\.1\.hook_resid_pre/);
  });
});

describe('editDistance', () => {
  it('counts insertions, deletions and substitutions', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('same', 'same')).toBe(0);
    expect(closestNames('hook_embd', ['blocks.0.hook_resid_pre', 'hook_embed', 'hook_pos_embed'], 2)).toEqual(['hook_embed', 'hook_pos_embed']);
  });
});
