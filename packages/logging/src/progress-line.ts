import type { Metrics } from './logger.js';

/**
 * One plain progress line, printed when the console is not a terminal:
 *
 *     step 120/1000 (12.0%) 35.2 steps/s ETA 25s loss=0.1234 l0_norm=32.0000
 *
 * - `120` is the number of steps completed (the logged step index + 1), so the
 *   last line reads `step 1000/1000 (100.0%)`;
 * - the total, the percentage, the rate and the ETA print as `?` while unknown;
 * - the ETA is `25s`, `4m05s` or `1h02m05s`;
 * - then `name=value` for each shown metric, values with 4 decimals (`NaN`,
 *   `Infinity`, `-Infinity` when not finite). Names never hold spaces or `=`.
 */
export interface ProgressLine {
  completedSteps: number;
  totalSteps: number | undefined;
  stepsPerSecond: number | undefined;
  etaSeconds: number | undefined;
  metrics: Metrics;
}

export function formatProgressLine(progress: ProgressLine): string {
  const { completedSteps, totalSteps, stepsPerSecond, etaSeconds } = progress;
  const total = totalSteps === undefined ? '?' : String(totalSteps);
  const percent = totalSteps === undefined || totalSteps === 0 ? '?' : ((100 * completedSteps) / totalSteps).toFixed(1);
  const rate = stepsPerSecond === undefined ? '?' : stepsPerSecond.toFixed(1);
  const eta = etaSeconds === undefined ? '?' : formatDuration(etaSeconds);
  const metrics = Object.entries(progress.metrics).map(([name, value]) => ` ${name}=${formatMetricValue(value)}`);
  return `step ${completedSteps}/${total} (${percent}%) ${rate} steps/s ETA ${eta}${metrics.join('')}`;
}

const LINE_PATTERN = /^step (\d+)\/(\d+|\?) \((\d+\.\d|\?)%\) (\d+\.\d|\?) steps\/s ETA (\S+)((?: [^\s=]+=\S+)*)$/;

/** Reads a line written by `formatProgressLine`; `undefined` for any other line, so a whole log can be scanned. */
export function parseProgressLine(line: string): ProgressLine | undefined {
  const match = LINE_PATTERN.exec(line.trimEnd());
  if (match === null) return undefined;
  const [, completed, total, , rate, eta, metricsText] = match as unknown as [string, string, string, string, string, string, string];
  const etaSeconds = eta === '?' ? undefined : parseDuration(eta);
  if (etaSeconds === null) return undefined;
  const metrics: Metrics = {};
  for (const pair of metricsText
    .trim()
    .split(' ')
    .filter((text) => text !== '')) {
    const separator = pair.indexOf('=');
    const value = Number(pair.slice(separator + 1));
    if (Number.isNaN(value) && pair.slice(separator + 1) !== 'NaN') return undefined;
    metrics[pair.slice(0, separator)] = value;
  }
  return {
    completedSteps: Number(completed),
    totalSteps: total === '?' ? undefined : Number(total),
    stepsPerSecond: rate === '?' ? undefined : Number(rate),
    etaSeconds,
    metrics,
  };
}

/** `25s`, `4m05s`, `1h02m05s`: whole seconds, rounded. */
export function formatDuration(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const rest = whole % 60;
  if (hours > 0) return `${hours}h${String(minutes).padStart(2, '0')}m${String(rest).padStart(2, '0')}s`;
  if (minutes > 0) return `${minutes}m${String(rest).padStart(2, '0')}s`;
  return `${rest}s`;
}

/** Inverse of `formatDuration`; `null` when the text is not one. */
function parseDuration(text: string): number | null {
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(\d+)s$/.exec(text);
  if (match === null) return null;
  return Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3]);
}

/** Four decimals, as the reference's progress bar (`{loss:.4f}`). */
export function formatMetricValue(value: number): string {
  return Number.isFinite(value) ? value.toFixed(4) : String(value);
}
