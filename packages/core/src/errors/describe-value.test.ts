import { describe, expect, it } from 'vitest';
import { describeValue } from './describe-value.js';

describe('describeValue', () => {
  it('writes values as a user would have written them', () => {
    expect(describeValue(undefined)).toBe('missing');
    expect(describeValue(3e-4)).toBe('0.0003');
    expect(describeValue(Number.NaN)).toBe('NaN');
    expect(describeValue(-Infinity)).toBe('-Infinity');
    expect(describeValue('topk')).toBe('"topk"');
    expect(describeValue([16, 32])).toBe('[16,32]');
    expect(describeValue({ top_k: 32 })).toBe('{"top_k":32}');
    expect(describeValue(null)).toBe('null');
    expect(describeValue(() => 1)).toBe('() => 1');
    expect(describeValue(10n)).toBe('10');
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(describeValue(cycle)).toBe('[object Object]');
  });
});
