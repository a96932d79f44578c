import { syncRunDirectory } from '@nnd/logging';
import { CliUsageError } from './cli-usage-error.js';
import type { Command } from './command.js';
import { parseCommandLine } from './command-line.js';
import { EXIT_CODES } from './exit-codes.js';

const OPTIONS = {
  project: { type: 'string' },
  entity: { type: 'string' },
} as const;

export const wandbSyncCommand: Command = {
  name: 'wandb-sync',
  summary: 'upload a run directory to Weights & Biases after the fact',
  help: () => `Usage: nnd wandb-sync <run dir> [--project NAME] [--entity NAME]

Uploads a run directory (config, every metrics row, the summary, the
checkpoints as run files) to W&B: for runs trained offline, or whose live
upload did not finish. Rows the live upload already sent are overwritten,
not doubled. The API key comes from WANDB_API_KEY or ~/.netrc
(wandb login); WANDB_BASE_URL picks a server other than api.wandb.ai.

Options:
      --project NAME     the W&B project (default: the one recorded, else
                         the run's wandb_project)
      --entity NAME      the W&B entity (default: the key's)
  -h, --help             this help

Example:
  nnd wandb-sync runs/tiny-lm_blocks.2.hook_resid_pre_2048_topk_32_0.0003
`,
  async run(args, io) {
    const { values, positionals } = parseCommandLine('wandb-sync', args, OPTIONS);
    if (values.help) {
      io.stdout(this.help());
      return EXIT_CODES.ok;
    }
    if (positionals.length !== 1) throw new CliUsageError(`nnd wandb-sync takes one run directory, got ${positionals.length}. Run 'nnd wandb-sync --help'.`);
    const report = await syncRunDirectory(positionals[0], { project: values.project, entity: values.entity, env: { ...io.env } });
    io.stdout(
      `Synced ${positionals[0]} to ${report.url}: ${report.historyRows} metrics rows, ${report.uploadedFiles.length} files${report.finished ? '' : ' (the run had not finished; marked as crashed)'}.\n`,
    );
    return EXIT_CODES.ok;
  },
};
