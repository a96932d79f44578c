import { describe, expect, it } from 'vitest';
import { DTYPES, allocate, bytesPerElement } from './dtype.js';

describe('bytesPerElement', () => {
  it("is the byte size of each dtype's typed array", () => {
    for (const dtype of DTYPES) expect(bytesPerElement(dtype)).toBe(allocate(dtype, 1).BYTES_PER_ELEMENT);
  });
});
