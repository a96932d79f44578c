import { ConfigError, GraphError, NndError } from '@nnd/core';
import { ModelNotFoundError } from '@nnd/models';
import { TrainingDivergedError } from '@nnd/train';
import { describe, expect, it } from 'vitest';
import { CliUsageError } from './cli-usage-error.js';
import { describeFailure, exitCodeFor } from './exit-codes.js';
import { InterruptedError } from './interrupted-error.js';

describe('exit codes', () => {
  it('1 for errors in what the user asked for, with the message only', () => {
    for (const error of [new ConfigError('bad key'), new CliUsageError('bad option'), new ModelNotFoundError('offline'), new TrainingDivergedError('NaN', { step: 3, lastCheckpoint: undefined })]) {
      expect(exitCodeFor(error)).toBe(1);
      expect(describeFailure(error)).toBe(`nnd: ${error.message}\n`);
    }
  });

  it('2 for bugs and unexpected failures, with the stack trace', () => {
    for (const error of [new GraphError('cycle'), new NndError('untyped'), new TypeError('x is undefined'), 'a string']) {
      expect(exitCodeFor(error)).toBe(2);
      expect(describeFailure(error)).toContain('internal error');
    }
    expect(describeFailure(new TypeError('x is undefined'))).toMatch(/TypeError: x is undefined\n\s+at /);
  });

  it('128 + the signal number when interrupted: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP', () => {
    expect(exitCodeFor(new InterruptedError('stopped'))).toBe(130);
    expect(exitCodeFor(new InterruptedError('stopped', 'SIGTERM'))).toBe(143);
    expect(exitCodeFor(new InterruptedError('stopped', 'SIGHUP'))).toBe(129);
    expect(describeFailure(new InterruptedError('stopped', 'SIGTERM'))).toBe('stopped\n');
  });
});
