import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LoggingError } from './errors/index.js';
import { createConsoleSink } from './console-sink.js';
import { parseProgressLine } from './progress-line.js';

/** Collects what is written; `isTTY` as given. */
function captureStream(isTTY: boolean) {
  const chunks: string[] = [];
  return { isTTY, chunks, write: (text: string) => chunks.push(text), text: () => chunks.join('') };
}

const metricsAt = (step: number) => ({ loss: 1 / (step + 1), l0_norm: 32, l2_loss: 0.25, l1_loss: 0.5, l1_norm: 0.125, aux_loss: 9 });

describe('console sink, not a terminal', () => {
  it('prints parseable progress lines with the reference metrics', async () => {
    const stream = captureStream(false);
    const sink = createConsoleSink({ stream, lineIntervalMs: 0 });
    await sink.init({}, { totalSteps: 20 });
    expect(sink.mode).toBe('lines');
    for (let step = 0; step < 20; step += 1) sink.log(metricsAt(step), step);
    await sink.finish();
    const lines = stream.text().trimEnd().split('\n');
    expect(lines).toHaveLength(20);
    const parsed = lines.map((line) => parseProgressLine(line));
    expect(parsed.every((line) => line !== undefined)).toBe(true);
    expect(parsed.map((line) => line?.completedSteps)).toEqual(Array.from({ length: 20 }, (_, index) => index + 1));
    const last = parsed[19];
    expect(last).toMatchObject({ completedSteps: 20, totalSteps: 20, etaSeconds: 0 });
    // The progress metrics only, in the reference's order; aux_loss is not one of them.
    expect(Object.keys(last?.metrics ?? {})).toEqual(['loss', 'l0_norm', 'l2_loss', 'l1_loss', 'l1_norm']);
    expect(last?.metrics.loss).toBeCloseTo(0.05, 4);
    expect(lines[19]).toMatch(/^step 20\/20 \(100\.0%\) \d+\.\d steps\/s ETA 0s loss=0\.0500 l0_norm=32\.0000/);
  });

  it('prints at most one line per interval, plus the first, the last, and the latest at finish', async () => {
    const stream = captureStream(false);
    const sink = createConsoleSink({ stream, lineIntervalMs: 60_000 });
    await sink.init({ num_tokens: 1000, batch_size: 10 });
    for (let step = 0; step < 50; step += 1) sink.log(metricsAt(step), step);
    await sink.finish();
    const steps = stream
      .text()
      .trimEnd()
      .split('\n')
      .map((line) => parseProgressLine(line)?.completedSteps);
    // Total from the reference's num_tokens // batch_size = 100, not reached; finish prints the latest.
    expect(steps).toEqual([1, 50]);
    expect(parseProgressLine(stream.text().split('\n')[0] ?? '')?.totalSteps).toBe(100);
  });

  it('refuses a log before init and a bad step', async () => {
    const sink = createConsoleSink({ stream: captureStream(false) });
    expect(() => sink.log({ loss: 1 }, 0)).toThrow(LoggingError);
    await sink.init({});
    expect(() => sink.log({ loss: 1 }, 1.5)).toThrow(LoggingError);
  });
});

describe('console sink, a terminal', () => {
  it("draws a cli-progress bar with rate, ETA and the reference's Loss/L0/L2/L1/L1_norm", async () => {
    const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 200 });
    let text = '';
    stream.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    const sink = createConsoleSink({ stream });
    await sink.init({}, { totalSteps: 10 });
    expect(sink.mode).toBe('bar');
    for (let step = 0; step < 10; step += 1) {
      sink.log(metricsAt(step), step);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await sink.finish();
    expect(text).toContain('Loss: 0.1000, L0: 32.0000, L2: 0.2500, L1: 0.5000, L1_norm: 0.1250');
    expect(text).toMatch(/10\/10 \| \d+\.\d steps\/s \| ETA 0s/);
  });
});
