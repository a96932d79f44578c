import { describeValue } from '@nnd/core';
import { runDirectoryFor } from '@nnd/logging';
import { loadRuns, renderRunsTableMarkdown, runsTable, writeReport } from '@nnd/results';
import { existsSync, readFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { CliUsageError } from './cli-usage-error.js';
import type { Command } from './command.js';
import { parseCommandLine } from './command-line.js';
import { memberConfigs, RUN_CONFIG_KEYS, type RunConfig } from './run-config.js';
import { EXIT_CODES } from './exit-codes.js';
import { JobResources } from './job-resources.js';
import { readSweep } from './sweep-grid.js';
import { runTrainingJob } from './training-job.js';

const OPTIONS = {
  set: { type: 'string', short: 's', multiple: true },
  out: { type: 'string', short: 'o' },
  'dry-run': { type: 'boolean' },
} as const;

/** The run directories a sweep point writes. */
function runDirectories(config: RunConfig): string[] {
  return memberConfigs(config).map((member) => runDirectoryFor(config.run_dir, member.name));
}

/**
 * A point is not trained again when each of its run directories holds a
 * completed run of the same config; one of another config is moved aside
 * by the new run (see setAsidePreviousRun).
 */
function completed(config: RunConfig): boolean {
  return memberConfigs(config).every((member) => {
    const directory = runDirectoryFor(config.run_dir, member.name);
    const summary = join(directory, 'summary.json');
    const recorded = join(directory, 'config.json');
    if (!existsSync(summary) || !existsSync(recorded)) return false;
    // A summary or config that is not a JSON object (damaged, edited) does not prove a completed run: the point trains again, the old directory moved aside.
    const readObject = (file: string): Record<string, unknown> | undefined => {
      try {
        const value = JSON.parse(readFileSync(file, 'utf8')) as unknown;
        return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
      } catch {
        return undefined;
      }
    };
    if (readObject(summary)?.status !== 'completed') return false;
    const previous = readObject(recorded);
    if (previous === undefined) return false;
    // `wandb` and `wandb_project` are recorded as resolved (from the environment, and the default project), and neither changes what is trained.
    return RUN_CONFIG_KEYS.filter((key) => key !== 'wandb' && key !== 'wandb_project').every((key) => JSON.stringify(previous[key]) === JSON.stringify((member as Record<string, unknown>)[key]));
  });
}

export const sweepCommand: Command = {
  name: 'sweep',
  trains: true,
  summary: 'train one run per point of a grid over config keys, one after another, then report them',
  help: () => `Usage: nnd sweep <sweep.yaml> [--set KEY=VALUE ...] [--out report.html] [--dry-run]

Trains a run for every combination of the grid's values, one after another,
each in its own run directory, then writes one report of them all. Runs that
already completed with the same config are skipped, so an interrupted sweep
continues where it stopped when run again.

The sweep file (YAML or JSON):
  base: config.yaml          # a config file (relative to the sweep file) or
                             # an inline mapping of config keys
  set: { num_tokens: 409600 }  # keys over the base, for every run
  grid:                      # key: list of values; every combination runs
    sae_type: [topk, batchtopk]
    top_k: [16, 32, 64]
A list of grids runs each in turn:
  grid:
    - { sae_type: [topk, batchtopk], top_k: [16, 32, 64] }
    - { sae_type: [vanilla, jumprelu], l1_coeff: [0.001, 0.003] }

Options:
  -s, --set KEY=VALUE    set one key for every run, over base and set, under
                         the grid's values
  -o, --out FILE         the report (default {run_dir}/<sweep file name>.html)
      --dry-run          list the runs and exit
  -h, --help             this help

Example:
  nnd sweep examples/compare-sae-types/sweep.yaml
`,
  async run(args, io) {
    const { values, positionals } = parseCommandLine('sweep', args, OPTIONS);
    if (values.help) {
      io.stdout(this.help());
      return EXIT_CODES.ok;
    }
    if (positionals.length !== 1) throw new CliUsageError(`nnd sweep takes one sweep file, got ${positionals.length}. Run 'nnd sweep --help'.`);
    const sweepFile = positionals[0];
    const points = await readSweep(sweepFile, values.set ?? []);
    if (values['dry-run']) {
      io.stdout(
        `${points.map((point, index) => `${index + 1}. ${describeValue(point.values)} -> ${runDirectories(point.config).join(', ')}${completed(point.config) ? ' (completed)' : ''}`).join('\n')}\n`,
      );
      return EXIT_CODES.ok;
    }
    const resources = new JobResources(io.env);
    const lines: string[] = [];
    try {
      for (const [index, point] of points.entries()) {
        const heading = `Sweep run ${index + 1}/${points.length}: ${describeValue(point.values)}`;
        if (completed(point.config)) {
          io.stderr(`${heading}: already completed, skipped.\n`);
          continue;
        }
        io.stderr(`\n${heading}\n`);
        const { runs } = await runTrainingJob(point.config, io, { resources, report: false });
        for (const run of runs) {
          const evaluation = run.evaluation;
          lines.push(
            `${run.name}: L0 ${evaluation.l0_norm.toFixed(1)}, explained variance ${evaluation.explained_variance.toFixed(4)}, CE degradation ${evaluation['performance/ce_degradation'].toFixed(4)}`,
          );
        }
      }
    } finally {
      await resources.dispose();
    }
    const directories = points.flatMap((point) => runDirectories(point.config));
    const records = await loadRuns(directories.map((directory) => ({ type: 'directory' as const, directory })));
    const out = values.out ?? join(points[0].config.run_dir, `${basename(sweepFile, extname(sweepFile))}.html`);
    const report = await writeReport(records, out, { title: `nnd sweep: ${basename(sweepFile)}` });
    io.stdout(`${lines.length > 0 ? `${lines.join('\n')}\n\n` : ''}${renderRunsTableMarkdown(runsTable(records))}\n\nReport (${records.length} runs): ${report}\n`);
    return EXIT_CODES.ok;
  },
};
