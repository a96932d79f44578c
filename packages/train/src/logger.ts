/**
 * Where the trainer sends metrics. A later package writes real loggers
 * (files, dashboards); any object with this `log` method works.
 */
export interface Logger {
  /** `metrics` maps names (`loss`, `l0_norm`, ... with `_{index}` in group training) to plain numbers. */
  log(metrics: Readonly<Record<string, number>>, step: number): void | Promise<void>;
}

/** The default: metrics are computed (the loss is checked every step) but not recorded. */
export const noopLogger: Logger = { log() {} };

/** One line per logged step, e.g. `step 100 loss=0.0123 l0_norm=32`. */
export function consoleLogger(write: (line: string) => void = (line) => console.log(line)): Logger {
  return {
    log(metrics, step) {
      const fields = Object.entries(metrics).map(([name, value]) => `${name}=${formatMetric(value)}`);
      write(`step ${step} ${fields.join(' ')}`);
    },
  };
}

function formatMetric(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toPrecision(5);
}
