import { ShapeError } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { SymbolBindings } from './symbol-bindings.js';

describe('SymbolBindings', () => {
  it('binds lone symbols, evaluates products from their factors, and binds whole products', () => {
    const bindings = new SymbolBindings('test');
    bindings.match(['batch*seq', 'seq', 4], [6, 3, 4], 'feed');
    expect(bindings.lookup('seq')).toBe(3);
    expect(bindings.lookup('batch*seq')).toBe(6);
    // 'batch' alone was never carried whole, so it stays unknown.
    expect(bindings.lookup('batch')).toBeUndefined();
    expect(bindings.lookup('2*seq')).toBe(6);
    expect(() => bindings.resolve('batch', 'Reshape (node 3)')).toThrow(/Reshape \(node 3\).*'batch' is not bound/);
  });

  it('checks later carriers against the bound sizes', () => {
    const bindings = new SymbolBindings('test');
    bindings.match(['batch', 4], [2, 4], "feed 'x'");
    bindings.match(['batch*2'], [4], 'Reshape output');
    expect(() => bindings.match(['batch*2'], [6], 'Add output')).toThrow(ShapeError);
    expect(() => bindings.match(['batch', 4], [3, 4], 'Mul output')).toThrow(/'batch' is 2 in feed 'x' \(axis 0\) but 3 in Mul output/);
    expect(() => bindings.match(['batch', 4], [2, 5], 'Sub output')).toThrow(/declares \[batch, 4\]/);
  });
});
