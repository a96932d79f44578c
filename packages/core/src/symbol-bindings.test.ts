import { describe, expect, it } from 'vitest';
import { ShapeError } from './errors/shape-error.js';
import type { Shape } from './shape.js';
import { SymbolBindings, loneSymbolsFirst } from './symbol-bindings.js';

describe('SymbolBindings', () => {
  it('binds lone symbols, evaluates products from their factors, and binds whole products', () => {
    const bindings = new SymbolBindings('test', 'computed');
    bindings.match(['batch*seq', 'seq', 4], [6, 3, 4], 'feed');
    expect(bindings.lookup('seq')).toBe(3);
    expect(bindings.lookup('batch*seq')).toBe(6);
    // The same product however it is written.
    expect(bindings.lookup('seq*batch')).toBe(6);
    // 'batch' alone was never carried whole, so it stays unknown.
    expect(bindings.lookup('batch')).toBeUndefined();
    expect(bindings.lookup('2*seq')).toBe(6);
    expect(bindings.lookup(5)).toBe(5);
    expect(bindings.resolve(7, 'Reshape (node 3)')).toBe(7);
    expect(() => bindings.resolve('batch', 'Reshape (node 3)')).toThrow(/Reshape \(node 3\).*'batch' is not bound/);
  });

  it("says how the tensors before the failing node came about, as the interpreter's or the backend's messages did", () => {
    expect(() => new SymbolBindings('evaluateGraph', 'evaluated').resolve('batch', 'Slice (node 4)')).toThrow(
      "Slice (node 4): symbolic dimension 'batch' is not bound by any tensor evaluated before it.",
    );
    expect(() => new SymbolBindings('tfjs run', 'computed').resolve('batch', 'Slice (node 4)')).toThrow("Slice (node 4): symbolic dimension 'batch' is not bound by any tensor computed before it.");
  });

  it('checks later carriers against the bound sizes', () => {
    const bindings = new SymbolBindings('test', 'computed');
    bindings.match(['batch', 4], [2, 4], "feed 'x'");
    bindings.match(['batch*2'], [4], 'Reshape output');
    expect(() => bindings.match(['batch*2'], [6], 'Add output')).toThrow(ShapeError);
    expect(() => bindings.match(['batch', 4], [3, 4], 'Mul output')).toThrow(/'batch' is 2 in feed 'x' \(axis 0\) but 3 in Mul output/);
    expect(() => bindings.match(['batch', 4], [2, 5], 'Sub output')).toThrow(/declares \[batch, 4\]/);
    expect(() => bindings.match(['batch'], [2, 1], 'Sub output')).toThrow('test: Sub output has shape [2, 1], but the graph declares [batch].');
  });

  it('checks a product against its factors and names them when no tensor carried it whole', () => {
    const bindings = new SymbolBindings('evaluateGraph', 'evaluated');
    bindings.match(['batch', 3], [2, 3], "feed 'x'");
    expect(() => bindings.match(['batch*3'], [9], "feed 'flat'")).toThrow(
      "evaluateGraph: symbolic dimension 'batch*3' is 6 in its factors but 9 in feed 'flat' (axis 0); every tensor must agree on it.",
    );
  });

  it('binds the lone symbols of one shape before checking its products', () => {
    const bindings = new SymbolBindings('test', 'computed');
    // 'batch*seq' comes first on the axis list but is checked after 'batch' and 'seq' are bound.
    bindings.match(['batch*seq', 'batch', 'seq'], [6, 2, 3], 'feed');
    expect(bindings.lookup('batch*seq')).toBe(6);
    expect(() => new SymbolBindings('test', 'computed').match(['batch*seq', 'batch', 'seq'], [5, 2, 3], 'feed')).toThrow(/'batch\*seq' is 6 in its factors but 5/);
  });
});

describe('loneSymbolsFirst', () => {
  it('moves shapes with products after those without, keeping each group in order', () => {
    const shapes: Shape[] = [['batch*seq', 2], ['2*batch'], [3], ['batch', 'seq'], ['seq']];
    expect(loneSymbolsFirst(shapes, (shape) => shape)).toEqual([[3], ['batch', 'seq'], ['seq'], ['batch*seq', 2], ['2*batch']]);
    // A copy: the input order is untouched.
    expect(shapes[0]).toEqual(['batch*seq', 2]);
  });

  it('reads each item through the given accessor', () => {
    const inputs = [
      { name: 'flat', shape: ['batch*3'] },
      { name: 'x', shape: ['batch', 3] },
    ];
    expect(loneSymbolsFirst(inputs, (input) => input.shape).map((input) => input.name)).toEqual(['x', 'flat']);
  });
});
