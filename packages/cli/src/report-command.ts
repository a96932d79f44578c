import { loadRuns, runsTable, renderRunsTableMarkdown, writeReport, type RunSource } from '@nnd/results';
import { CliUsageError } from './cli-usage-error.js';
import type { Command } from './command.js';
import { parseCommandLine, positiveIntegerOption } from './command-line.js';
import { EXIT_CODES } from './exit-codes.js';

const OPTIONS = {
  out: { type: 'string', short: 'o' },
  title: { type: 'string' },
  k: { type: 'string' },
  'dict-size': { type: 'string' },
} as const;

const WANDB_PREFIX = 'wandb:';

/** `wandb:entity/project` is a W&B project; anything else a run directory or a folder of them. */
function runSourceOf(argument: string, env: Readonly<Record<string, string | undefined>>): RunSource {
  if (!argument.startsWith(WANDB_PREFIX)) return { type: 'directory', directory: argument };
  const project = argument.slice(WANDB_PREFIX.length);
  if (!/^[^/\s]+\/[^/\s]+$/.test(project)) throw new CliUsageError(`'${argument}' is not a W&B project; write wandb:entity/project, e.g. wandb:patrickaaleask/batchtopk_comparison.`);
  return { type: 'wandb', project, environment: { ...env } };
}

export const reportCommand: Command = {
  name: 'report',
  summary: 'write an HTML report (table, sweeps, training curves, feature densities) of runs',
  help: () => `Usage: nnd report <run dir | runs dir | wandb:entity/project> ... [--out report.html] [--title TEXT]

Loads runs from run directories written by nnd train (a run directory, or a
folder of them such as runs/) and from W&B projects (WANDB_API_KEY), prints
their table as Markdown, and writes one self-contained HTML file: the runs
table, the reference's four sweep panels, explained variance against L0,
training curves and feature-density histograms.

Options:
  -o, --out FILE         the report (default report.html)
      --title TEXT       the page's title
      --k N              the k of the dictionary-size panels (default 32)
      --dict-size N      the dictionary size of the L0 panels (default: the
                         size with the most runs)
  -h, --help             this help

Examples:
  nnd report runs/ --out report.html
  nnd report wandb:patrickaaleask/batchtopk_comparison runs/ --out comparison.html
`,
  async run(args, io) {
    const { values, positionals } = parseCommandLine('report', args, OPTIONS);
    if (values.help) {
      io.stdout(this.help());
      return EXIT_CODES.ok;
    }
    if (positionals.length === 0) throw new CliUsageError("nnd report needs at least one run directory or wandb:entity/project. Run 'nnd report --help'.");
    const runs = await loadRuns(positionals.map((argument) => runSourceOf(argument, io.env)));
    const written = await writeReport(runs, values.out ?? 'report.html', {
      title: values.title,
      k: positiveIntegerOption('report', 'k', values.k),
      dictionarySize: positiveIntegerOption('report', 'dict-size', values['dict-size']),
    });
    io.stdout(`${renderRunsTableMarkdown(runsTable(runs))}\n\nReport (${runs.length} runs): ${written}\n`);
    return EXIT_CODES.ok;
  },
};
