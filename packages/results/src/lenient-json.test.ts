import { describe, expect, it } from 'vitest';
import { ResultsError } from './errors/index.js';
import { parseLenientJson } from './lenient-json.js';

describe('parseLenientJson', () => {
  it('parses plain JSON as JSON.parse does', () => {
    expect(parseLenientJson('{"a":[1,"x"],"b":null}', 'test')).toEqual({ a: [1, 'x'], b: null });
  });

  it('reads bare NaN and ±Infinity as numbers, at any depth', () => {
    const value = parseLenientJson('{"loss": NaN, "deep": [Infinity, {"x": -Infinity}], "ok": 1}', 'test') as Record<string, unknown>;
    expect(value.loss).toBeNaN();
    expect(value.deep).toEqual([Infinity, { x: -Infinity }]);
    expect(value.ok).toBe(1);
  });

  it('leaves the same words inside strings alone', () => {
    expect(parseLenientJson('{"NaN": "Infinity and NaN \\" NaN", "v": NaN}', 'test')).toEqual({ NaN: 'Infinity and NaN " NaN', v: Number.NaN });
  });

  it('throws ResultsError naming what was parsed', () => {
    expect(() => parseLenientJson('{"a": nope}', 'summaryMetrics of run x')).toThrow(ResultsError);
    expect(() => parseLenientJson('{"a": nope}', 'summaryMetrics of run x')).toThrow(/summaryMetrics of run x is not JSON/);
  });
});
