import { describe, expect, it } from 'vitest';
import { NndError } from '@nnd/core';
import { ResultsError } from './results-error.js';

describe('ResultsError', () => {
  it('is an NndError with its own code, name and cause', () => {
    const cause = new Error('underlying');
    const error = new ResultsError('bad results', { cause });
    expect(error).toBeInstanceOf(NndError);
    expect(NndError.isInstance(error)).toBe(true);
    expect(error.code).toBe('nnd.results');
    expect(error.name).toBe('ResultsError');
    expect(error.cause).toBe(cause);
  });
});
