import { randomBytes } from 'node:crypto';
import { WandbError } from './errors/index.js';
import { messageOf } from './crash-safe-files.js';
import type { RunConfig } from './logger.js';
import { runName } from './run-name.js';

/** Environment variables, passed in (default `process.env`) rather than read at import. */
export type Environment = Record<string, string | undefined>;

const DEFAULT_BASE_URL = 'https://api.wandb.ai';

/** Where W&B is: the option, else `WANDB_BASE_URL`, else W&B's cloud. */
export function resolveBaseUrl(baseUrl: string | undefined, env: Environment): string {
  return (baseUrl ?? (env.WANDB_BASE_URL || undefined) ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
}

/**
 * The API key, found by @wandb/sdk's `login`: the option, else
 * `WANDB_API_KEY`, else the host's entry in `~/.netrc` (what `wandb login`
 * writes); with none, `login` prompts on a terminal for up to 30 s, as the
 * Python client's `wandb.init` does, and fails elsewhere.
 */
export async function resolveApiKey(baseUrl: string, apiKey: string | undefined, env: Environment): Promise<string> {
  // Loaded here, not at import: it pulls in graphql-request and is only needed when W&B is on.
  const { wandb } = await import('@wandb/sdk');
  try {
    return await wandb.login({ key: apiKey ?? (env.WANDB_API_KEY || undefined), host: baseUrl, timeout: 30_000 });
  } catch (error) {
    throw new WandbError(`no W&B API key (${messageOf(error)}): set WANDB_API_KEY, or run \`wandb login\``, { retryable: false, cause: error });
  }
}

/** Whether a run logs to W&B when the caller did not say: `WANDB_MODE=disabled|offline` says no, then `config.wandb`, then `wandb_project` or a `WANDB_API_KEY`. */
export function wandbRequested(config: RunConfig, env: Environment): boolean {
  if (env.WANDB_MODE === 'disabled' || env.WANDB_MODE === 'offline') return false;
  if (typeof config.wandb === 'boolean') return config.wandb;
  return typeof config.wandb_project === 'string' || Boolean(env.WANDB_API_KEY);
}

/** The project: the option, else `config.wandb_project`, else `WANDB_PROJECT`, else W&B's `uncategorized`. */
export function resolveProject(project: string | undefined, config: RunConfig, env: Environment): string {
  return project ?? stringField(config, 'wandb_project') ?? (env.WANDB_PROJECT || undefined) ?? 'uncategorized';
}

/** The entity: the option, else `config.wandb_entity`, else `WANDB_ENTITY`, else unset (the server uses the key's default entity). */
export function resolveEntity(entity: string | undefined, config: RunConfig, env: Environment): string | undefined {
  return entity ?? stringField(config, 'wandb_entity') ?? (env.WANDB_ENTITY || undefined);
}

/** The display name: `config.name`, else the reference's `runName(config)`, else the run id. */
export function resolveDisplayName(config: RunConfig, runId: string): string {
  const name = stringField(config, 'name');
  if (name !== undefined) return name;
  try {
    return runName(config);
  } catch {
    return runId;
  }
}

/** A W&B run id as the clients make them: 8 characters of [a-z0-9]. */
export function newRunId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(8), (byte) => alphabet[byte % alphabet.length]).join('');
}

function stringField(config: RunConfig, field: string): string | undefined {
  const value = config[field];
  return typeof value === 'string' && value !== '' ? value : undefined;
}
