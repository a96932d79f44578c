/**
 * Steps per second over the last `window` logged steps. A window, not the
 * whole run, so that the first step's compilation time and later slow phases
 * (evaluation) fade out of the rate and the ETA.
 */
export class StepRate {
  private readonly samples: { step: number; timeMs: number }[] = [];

  constructor(private readonly window = 32) {}

  record(step: number, timeMs: number): void {
    this.samples.push({ step, timeMs });
    if (this.samples.length > this.window) this.samples.shift();
  }

  /** `undefined` until two samples span some time. */
  stepsPerSecond(): number | undefined {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (first === undefined || last === undefined || last.timeMs <= first.timeMs || last.step <= first.step) return undefined;
    return ((last.step - first.step) * 1000) / (last.timeMs - first.timeMs);
  }
}
