import type { Logger as RunSink } from '@nnd/logging';
import type { Logger as TrainLogger } from '@nnd/train';

/**
 * The trainer's logger for a run of one or several SAEs. Group training
 * names each metric with the member's suffix (`loss_0`, `l0_norm_1`, as the
 * reference does); here each member's metrics go, unsuffixed, to that
 * member's own run directory, so every SAE of a group is a run of its own in
 * the report. `progress` (the console) follows the first member.
 */
export function groupLogger(members: readonly RunSink[], grouped: boolean, progress?: RunSink): TrainLogger {
  return {
    log(metrics, step) {
      if (!grouped) {
        members[0].log({ ...metrics }, step);
        progress?.log({ ...metrics }, step);
        return;
      }
      const split = members.map(() => ({}) as Record<string, number>);
      for (const [name, value] of Object.entries(metrics)) {
        const match = /^(.*)_(\d+)$/.exec(name);
        const index = match ? Number(match[2]) : Number.NaN;
        if (match && index < members.length) split[index][match[1]] = value;
      }
      split.forEach((memberMetrics, index) => members[index].log(memberMetrics, step));
      progress?.log(split[0], step);
    },
  };
}
