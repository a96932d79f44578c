import { SingleBar } from 'cli-progress';
import { LoggingError } from './errors/index.js';
import { checkLogCall, totalStepsOf } from './logger.js';
import type { Logger, Metrics } from './logger.js';
import { PROGRESS_METRICS } from './metric-names.js';
import { formatDuration, formatMetricValue, formatProgressLine } from './progress-line.js';
import { StepRate } from './step-rate.js';

/** Where the console sink writes; a terminal stream has `isTTY` true. */
export interface ConsoleStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ConsoleSinkOptions {
  /** Defaults to `process.stdout`. */
  stream?: ConsoleStream;
  /** `bar` redraws one line (a terminal), `lines` prints progress lines (CI, files); `auto` (default) picks by `stream.isTTY`. */
  mode?: 'auto' | 'bar' | 'lines';
  /** In `lines` mode, at least this long between two lines (default 10 s); the first and the last step always print. */
  lineIntervalMs?: number;
}

export interface ConsoleSink extends Logger {
  /** The mode chosen at `init` (`undefined` before). */
  readonly mode: 'bar' | 'lines' | undefined;
}

/**
 * Progress on the console: a cli-progress bar with rate, ETA and the
 * reference's `Loss: …, L0: …, L2: …, L1: …, L1_norm: …`, or plain
 * `formatProgressLine` lines when the stream is not a terminal (a redrawn bar
 * would fill a CI log with control characters).
 */
export function createConsoleSink(options: ConsoleSinkOptions = {}): ConsoleSink {
  const stream = options.stream ?? process.stdout;
  const lineIntervalMs = options.lineIntervalMs ?? 10_000;
  let mode: 'bar' | 'lines' | undefined;
  let totalSteps: number | undefined;
  let bar: SingleBar | undefined;
  const rate = new StepRate();
  let lastPrintedMs = -Infinity;
  // The latest step not yet printed in lines mode, printed by finish so the log ends with the last step.
  let unprinted: { completedSteps: number; metrics: Metrics } | undefined;

  function progressOf(completedSteps: number) {
    const stepsPerSecond = rate.stepsPerSecond();
    const etaSeconds = stepsPerSecond === undefined || totalSteps === undefined ? undefined : Math.max(0, totalSteps - completedSteps) / stepsPerSecond;
    return { stepsPerSecond, etaSeconds };
  }

  function shownMetrics(metrics: Metrics): Metrics {
    const shown: Metrics = {};
    for (const { name } of PROGRESS_METRICS) if (metrics[name] !== undefined) shown[name] = metrics[name];
    return shown;
  }

  function printLine(completedSteps: number, metrics: Metrics): void {
    stream.write(`${formatProgressLine({ completedSteps, totalSteps, ...progressOf(completedSteps), metrics })}\n`);
  }

  return {
    get mode() {
      return mode;
    },

    async init(config, initOptions) {
      totalSteps = totalStepsOf(config, initOptions);
      const requested = options.mode ?? 'auto';
      mode = requested === 'auto' ? (stream.isTTY === true ? 'bar' : 'lines') : requested;
      if (mode === 'bar') {
        const known = totalSteps !== undefined;
        bar = new SingleBar({
          stream: stream as NodeJS.WritableStream,
          format: known ? '{bar} {percentage}% | {value}/{total} | {rate} steps/s | ETA {etaText} | {metricsText}' : '{value} steps | {rate} steps/s | {metricsText}',
          barsize: 30,
          hideCursor: null,
          // cli-progress would otherwise catch the first SIGINT itself, and Ctrl-C would not stop training.
          gracefulExit: false,
          // The bar is drawn only for a terminal; never on a pipe.
          noTTYOutput: false,
        });
        bar.start(totalSteps ?? 0, 0, { rate: '?', etaText: '?', metricsText: '' });
      }
    },

    log(metrics, step) {
      checkLogCall(metrics, step);
      if (mode === undefined) throw new LoggingError('log called before init on the console sink');
      const completedSteps = step + 1;
      const nowMs = performance.now();
      rate.record(step, nowMs);
      if (bar !== undefined) {
        const { stepsPerSecond, etaSeconds } = progressOf(completedSteps);
        const metricsText = PROGRESS_METRICS.filter(({ name }) => metrics[name] !== undefined)
          .map(({ name, label }) => `${label}: ${formatMetricValue(metrics[name] as number)}`)
          .join(', ');
        bar.update(completedSteps, {
          rate: stepsPerSecond === undefined ? '?' : stepsPerSecond.toFixed(1),
          etaText: etaSeconds === undefined ? '?' : formatDuration(etaSeconds),
          metricsText,
        });
        return;
      }
      const isLast = totalSteps !== undefined && completedSteps >= totalSteps;
      if (nowMs - lastPrintedMs >= lineIntervalMs || isLast) {
        printLine(completedSteps, shownMetrics(metrics));
        lastPrintedMs = nowMs;
        unprinted = undefined;
      } else {
        unprinted = { completedSteps, metrics: shownMetrics(metrics) };
      }
    },

    artifact() {
      // Checkpoints are not shown: a line per checkpoint would break the bar.
    },

    async finish() {
      if (bar !== undefined) {
        bar.stop();
        bar = undefined;
      }
      if (unprinted !== undefined) {
        printLine(unprinted.completedSteps, unprinted.metrics);
        unprinted = undefined;
      }
    },
  };
}
