import { describe, expect, it } from 'vitest';
import { LoggingError } from './errors/index.js';
import { checkLogCall, composeLoggers, totalStepsOf } from './logger.js';
import type { Logger } from './logger.js';

function recordingSink(calls: string[], label: string, failFinish = false): Logger {
  return {
    async init() {
      calls.push(`${label}.init`);
    },
    log(_metrics, step) {
      calls.push(`${label}.log ${step}`);
    },
    artifact(name) {
      calls.push(`${label}.artifact ${name}`);
    },
    async finish() {
      calls.push(`${label}.finish`);
      if (failFinish) throw new LoggingError(`${label} failed`);
    },
  };
}

describe('composeLoggers', () => {
  it('calls every sink in order, once per call', async () => {
    const calls: string[] = [];
    const logger = composeLoggers(recordingSink(calls, 'a'), recordingSink(calls, 'b'));
    await logger.init({});
    logger.log({ loss: 1 }, 0);
    logger.artifact('checkpoint_0', []);
    await logger.finish();
    expect(calls).toEqual(['a.init', 'b.init', 'a.log 0', 'b.log 0', 'a.artifact checkpoint_0', 'b.artifact checkpoint_0', 'a.finish', 'b.finish']);
  });

  it('finishes every sink even when one fails, then rethrows', async () => {
    const calls: string[] = [];
    const logger = composeLoggers(recordingSink(calls, 'a', true), recordingSink(calls, 'b'));
    await expect(logger.finish()).rejects.toThrow('a failed');
    expect(calls).toEqual(['a.finish', 'b.finish']);
  });
});

describe('checkLogCall and totalStepsOf', () => {
  it('reject bad steps, non-numbers and reserved names', () => {
    expect(() => checkLogCall({ loss: 1 }, -1)).toThrow(LoggingError);
    expect(() => checkLogCall({ loss: '1' as unknown as number }, 0)).toThrow(/'loss'/);
    expect(() => checkLogCall({ time: 1 }, 0)).toThrow(/reserved/);
    expect(() => checkLogCall({ loss: Number.NaN }, 0)).not.toThrow();
  });

  it('take the explicit total, else num_tokens // batch_size', () => {
    expect(totalStepsOf({ num_tokens: 1e9, batch_size: 4096 }, { totalSteps: 5 })).toBe(5);
    expect(totalStepsOf({ num_tokens: 1e9, batch_size: 4096 })).toBe(244140);
    expect(totalStepsOf({})).toBeUndefined();
  });
});
