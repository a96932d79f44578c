export { runCli, rootHelp, COMMANDS } from './run-cli.js';
export type { Command } from './command.js';
export type { CliIo } from './cli-io.js';
export { EXIT_CODES, exitCodeFor } from './exit-codes.js';
export { CliUsageError } from './cli-usage-error.js';
export { InterruptedError } from './interrupted-error.js';
export {
  BACKENDS,
  CACHE_DTYPES,
  DEVICES,
  DTYPES,
  RUN_CONFIG_KEYS,
  SITES,
  defaultRunConfig,
  memberConfigs,
  parseRunConfig,
  runConfigSchema,
  runConfigSchemaFor,
} from './run-config.js';
export type { MemberConfig, RunConfig, RunConfigInput } from './run-config.js';
export { mergeConfigLayer, rawRunConfig, resolveRunConfig } from './config-input.js';
export type { ConfigArguments } from './config-input.js';
export { readConfigFile } from './config-file.js';
export { parseSetOption } from './set-option.js';
export { expandGrid, readSweep } from './sweep-grid.js';
export type { Grid, SweepPoint } from './sweep-grid.js';
export { createBackend } from './backend-choice.js';
export { modelLocation, TINY_LM } from './model-source.js';
export { runTrainingJob, REPORT_FILE } from './training-job.js';
export { EVALUATION_START_KEY } from './evaluation-batches.js';
export type { TrainedRun, TrainingJobOptions, TrainingJobResult } from './training-job.js';
export { JobResources } from './job-resources.js';
export { evaluationSummaryLines } from './evaluation-summary.js';
export { locateCheckpoint } from './checkpoint-location.js';
export type { CheckpointLocation } from './checkpoint-location.js';
export { DECOMPOSITION_FAMILIES, familyNamed } from './decomposition-families.js';
export { dashboardCommand, DASHBOARD_FOLDER, DEFAULT_DASHBOARD_TOKENS, featureRange, writeRunDashboards } from './dashboard-command.js';
export type { RunDashboardOptions } from './dashboard-command.js';
export { compareCommand, compareRuns, DEFAULT_COMPARISON_FOLDER } from './compare-command.js';
export type { CompareRunsOptions } from './compare-command.js';
