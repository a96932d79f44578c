import { WandbError } from '@nnd/logging';
import { ResultsError } from './errors/index.js';
import { parseLenientJson } from './lenient-json.js';
import type { HistoryRow, RunRecord } from './run-record.js';

/** Runs of one W&B project, read through W&B's public GraphQL API (what `wandb.Api().runs("entity/project")` reads). */
export interface WandbSource {
  type: 'wandb';
  /** `entity/project`, as the reference's `api.runs(f"{entity}/{project}")` takes it. */
  project: string;
  /** Defaults to `environment.WANDB_API_KEY`. */
  apiKey?: string;
  /** Defaults to `environment.WANDB_BASE_URL`, else `https://api.wandb.ai`. */
  baseUrl?: string;
  /** Fetch each run's history too (one more request per run), for training curves. Default true. */
  history?: boolean;
  /** W&B samples each run's history down to this many rows (its `samples` argument). Default 1000. */
  historySamples?: number;
  /** Runs per page of the runs query. Default 50, W&B's own. */
  pageSize?: number;
  /** Each request is aborted after this long. Default 60 s. */
  requestTimeoutMs?: number;
  /** Where the defaults come from; read when the runs load, never at import. Default `process.env`. */
  environment?: Record<string, string | undefined>;
}

export const DEFAULT_WANDB_BASE_URL = 'https://api.wandb.ai';

/**
 * The queries the Python public API sends, trimmed to the fields used here.
 * `config` and `summaryMetrics` are JSON strings; each `history` entry is one
 * JSON string per logged row, with `_step` in it.
 */
const RUNS_QUERY = `query Runs($project: String!, $entity: String!, $cursor: String, $perPage: Int = 50, $order: String) {
  project(name: $project, entityName: $entity) {
    runs(after: $cursor, first: $perPage, order: $order) {
      edges { node { id name displayName state config summaryMetrics } cursor }
      pageInfo { endCursor hasNextPage }
    }
  }
}`;

const HISTORY_QUERY = `query RunFullHistory($project: String!, $entity: String!, $name: String!, $samples: Int) {
  project(name: $project, entityName: $entity) {
    run(name: $name) { history(samples: $samples) }
  }
}`;

interface RunNode {
  id?: string;
  name?: string;
  displayName?: string | null;
  state?: string;
  config?: string | null;
  summaryMetrics?: string | null;
}

interface RunsAnswer {
  project: {
    runs: { edges: { node: RunNode; cursor?: string }[]; pageInfo: { endCursor: string | null; hasNextPage: boolean } };
  } | null;
}

interface HistoryAnswer {
  project: { run: { history: string[] | null } | null } | null;
}

/** Loads every run of `source.project`, oldest first. */
export async function loadWandbRuns(source: WandbSource): Promise<RunRecord[]> {
  const environment = source.environment ?? process.env;
  const { entity, project } = splitProjectPath(source.project);
  const baseUrl = (source.baseUrl ?? (environment.WANDB_BASE_URL || undefined) ?? DEFAULT_WANDB_BASE_URL).replace(/\/+$/, '');
  const apiKey = source.apiKey ?? (environment.WANDB_API_KEY || undefined);
  if (apiKey === undefined) {
    throw new ResultsError(`loading W&B project '${source.project}' needs an API key: pass apiKey, or set WANDB_API_KEY`);
  }
  const client = new PublicApiClient(baseUrl, apiKey, source.requestTimeoutMs ?? 60_000);
  const pageSize = positiveInteger(source.pageSize ?? 50, 'pageSize');
  const historySamples = positiveInteger(source.historySamples ?? 1000, 'historySamples');

  const nodes: RunNode[] = [];
  let cursor: string | null = null;
  for (;;) {
    const answer: RunsAnswer = await client.query<RunsAnswer>(RUNS_QUERY, { entity, project, cursor, perPage: pageSize, order: '+created_at' });
    if (answer.project === null) throw new ResultsError(`W&B has no project '${entity}/${project}' at ${baseUrl} (or the API key cannot see it)`);
    const runs = answer.project.runs;
    if (!Array.isArray(runs?.edges) || runs.pageInfo === undefined) throw new ResultsError(`W&B's runs answer for '${entity}/${project}' has no edges/pageInfo`);
    nodes.push(...runs.edges.map((edge) => edge.node));
    if (!runs.pageInfo.hasNextPage) break;
    // A server that says there is more but gives no cursor would loop forever.
    if (runs.pageInfo.endCursor === null || runs.pageInfo.endCursor === cursor) {
      throw new ResultsError(`W&B's runs answer for '${entity}/${project}' says there is a next page but gives no new cursor`);
    }
    cursor = runs.pageInfo.endCursor;
  }

  const records: RunRecord[] = [];
  // One run at a time: W&B rate-limits the public API, and projects of a few dozen runs load in seconds.
  for (const node of nodes) {
    const runId = node.name;
    if (typeof runId !== 'string') throw new ResultsError(`a run of '${entity}/${project}' came back without its name (the run id)`);
    const config = unwrapConfig(node.config, runId);
    const summary = withoutInternalKeys(parseObject(node.summaryMetrics, `summaryMetrics of run ${runId}`));
    let history: HistoryRow[] = [];
    if (source.history ?? true) {
      const answer = await client.query<HistoryAnswer>(HISTORY_QUERY, { entity, project, name: runId, samples: historySamples });
      const lines = answer.project?.run?.history;
      if (lines === undefined) throw new ResultsError(`W&B gave no history for run ${runId} of '${entity}/${project}'`);
      history = historyRowsOf(lines ?? [], runId);
    }
    const configName = config.name;
    records.push({
      name: typeof configName === 'string' && configName !== '' ? configName : (node.displayName ?? runId),
      origin: { type: 'wandb', baseUrl, entity, project, runId },
      config,
      summary,
      history,
    });
  }
  return records;
}

function splitProjectPath(projectPath: string): { entity: string; project: string } {
  const parts = projectPath.split('/');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
    throw new ResultsError(`a W&B source's project must be 'entity/project', got '${projectPath}'`);
  }
  return { entity: parts[0]!, project: parts[1]! };
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new ResultsError(`a W&B source's ${name} must be a positive integer, got ${String(value)}`);
  return value;
}

function parseObject(text: string | null | undefined, what: string): Record<string, unknown> {
  if (text === null || text === undefined || text === '') return {};
  const value = parseLenientJson(text, what);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ResultsError(`${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** W&B keeps its own bookkeeping (`_wandb`, `_step`, `_runtime`, `_timestamp`) beside the run's keys; none is a config value or a metric. */
function withoutInternalKeys(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([key]) => !key.startsWith('_')));
}

/** The clients store each config key as `{"desc": null, "value": ...}`; this gives back the plain values. */
function unwrapConfig(text: string | null | undefined, runId: string): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(withoutInternalKeys(parseObject(text, `config of run ${runId}`)))) {
    const wrapped = typeof entry === 'object' && entry !== null && !Array.isArray(entry) && 'value' in entry;
    config[key] = wrapped ? (entry as { value: unknown }).value : entry;
  }
  return config;
}

/** History lines to rows; non-numeric values (W&B media, histograms) are not scalar metrics and are left out. */
function historyRowsOf(lines: readonly string[], runId: string): HistoryRow[] {
  return lines.map((line, index) => {
    const record = parseObject(line, `history row ${index} of run ${runId}`);
    const step = record._step;
    if (typeof step !== 'number') throw new ResultsError(`history row ${index} of run ${runId} has no _step`);
    const metrics: Record<string, number> = {};
    for (const [key, value] of Object.entries(withoutInternalKeys(record))) {
      if (typeof value === 'number') metrics[key] = value;
    }
    return { step, metrics };
  });
}

/** POST {baseUrl}/graphql with the key as HTTP basic auth (user `api`), as every W&B client sends it. */
class PublicApiClient {
  private readonly authorization: string;

  constructor(
    private readonly baseUrl: string,
    apiKey: string,
    private readonly requestTimeoutMs: number,
  ) {
    this.authorization = `Basic ${Buffer.from(`api:${apiKey}`).toString('base64')}`;
  }

  async query<T>(query: string, variables: Record<string, unknown>): Promise<T> {
    const url = `${this.baseUrl}/graphql`;
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { authorization: this.authorization, 'content-type': 'application/json', 'user-agent': 'nnd-results' },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
    } catch (error) {
      const reason = (error as { name?: string }).name === 'TimeoutError' ? 'request timed out' : ((error as { cause?: { code?: string } }).cause?.code ?? String(error));
      throw new WandbError(`cannot reach W&B at ${this.baseUrl}: ${reason}`, { retryable: true, cause: error });
    }
    const text = await response.text();
    if (!response.ok) {
      const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
      const hint = response.status === 401 ? ' (is the API key right?)' : '';
      throw new WandbError(`W&B answered HTTP ${response.status} to POST /graphql${hint}: ${text.slice(0, 200)}`, { retryable, status: response.status });
    }
    const answer = parseObject(text, `W&B's answer to POST /graphql`) as { data?: T; errors?: { message?: string }[] };
    if (Array.isArray(answer.errors) && answer.errors.length > 0) {
      throw new WandbError(`W&B GraphQL error: ${answer.errors.map((error) => error.message ?? '?').join('; ')}`, { retryable: false });
    }
    if (answer.data === undefined || answer.data === null) throw new WandbError('W&B answered POST /graphql without data', { retryable: true });
    return answer.data;
  }
}
