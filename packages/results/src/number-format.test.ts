import { describe, expect, it } from 'vitest';
import { formatValue } from './number-format.js';

describe('formatValue', () => {
  it('prints integers whole and other numbers to 4 significant digits', () => {
    expect(formatValue(16384)).toBe('16384');
    expect(formatValue(0.123456)).toBe('0.1235');
    expect(formatValue(-0.0431)).toBe('-0.0431');
    expect(formatValue(32.16)).toBe('32.16');
  });

  it('switches to exponent notation for very small and very large values', () => {
    expect(formatValue(0.00073242)).toBe('7.324e-4');
    expect(formatValue(2e-5)).toBe('2e-5');
    expect(formatValue(1234567.5)).toBe('1.235e+6');
  });

  it('prints missing and non-finite values visibly', () => {
    expect(formatValue(undefined)).toBe('—');
    expect(formatValue(Number.NaN)).toBe('NaN');
    expect(formatValue(-Infinity)).toBe('-Infinity');
    expect(formatValue('topk')).toBe('topk');
  });
});
