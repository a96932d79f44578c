import * as fs from 'node:fs/promises';
import { WandbError } from './errors/index.js';
import { messageOf } from './crash-safe-files.js';

/**
 * The W&B run protocol, as the Python client speaks it, over Node's fetch:
 *
 * - `POST {baseUrl}/graphql`, mutation `upsertBucket`: create (or, for a
 *   resumed run, update) the run with its config and display name; the answer
 *   names the entity when we did not.
 * - `POST {baseUrl}/files/{entity}/{project}/{run}/file_stream`: history lines
 *   at an offset (`wandb-history.jsonl`), the summary (`wandb-summary.json`),
 *   and finally `{complete: true, exitcode}`.
 * - `POST {baseUrl}/graphql`, query `RunUploadUrls` (the query @wandb/sdk
 *   ships but never calls), then `PUT` each file to the signed URL it returns:
 *   run files, for checkpoints.
 *
 * Every request carries `Authorization: Basic base64("api:" + key)`.
 */
export interface WandbConnection {
  baseUrl: string;
  apiKey: string;
  /** Each request is aborted after this long (default 30 s). */
  requestTimeoutMs?: number;
}

/** A run's place on the server. */
export interface RunPath {
  entity: string;
  project: string;
  runId: string;
}

export interface UpsertRunInput {
  runId: string;
  project: string;
  entity: string | undefined;
  displayName: string;
  /** Already in W&B's shape (see `wandbConfig`). */
  config: string;
}

/** The body of one file_stream request. */
export interface FileStreamPayload {
  files?: Record<string, { offset: number; content: string[] }>;
  complete?: boolean;
  exitcode?: number;
  /** Names of run files uploaded, so the server lists them with the run (the Python client sends the same). */
  uploaded?: string[];
}

/** A run file to upload: its name on W&B and where its bytes come from. */
export interface UploadItem {
  name: string;
  path?: string;
  content?: Uint8Array;
}

const UPSERT_BUCKET = `mutation UpsertBucket($name: String, $project: String, $entity: String, $displayName: String, $config: JSONString) {
  upsertBucket(input: {name: $name, modelName: $project, entityName: $entity, displayName: $displayName, config: $config}) {
    bucket { id name displayName project { id name entity { id name } } }
    inserted
  }
}`;

const RUN_UPLOAD_URLS = `query RunUploadUrls($name: String!, $files: [String]!, $entity: String, $run: String!) {
  model(name: $name, entityName: $entity) {
    bucket(name: $run) {
      id
      files(names: $files) { uploadHeaders edges { node { name url(upload: true) } } }
    }
  }
}`;

const USER_AGENT = 'nnd-logging (W&B run protocol over fetch)';

export class WandbClient {
  readonly baseUrl: string;
  private readonly authorization: string;
  private readonly requestTimeoutMs: number;

  constructor(connection: WandbConnection) {
    this.baseUrl = connection.baseUrl.replace(/\/+$/, '');
    this.authorization = `Basic ${Buffer.from(`api:${connection.apiKey}`).toString('base64')}`;
    this.requestTimeoutMs = connection.requestTimeoutMs ?? 30_000;
  }

  async upsertRun(input: UpsertRunInput, signal?: AbortSignal): Promise<RunPath> {
    const data = await this.graphql<{ upsertBucket?: { bucket?: { name?: string; project?: { name?: string; entity?: { name?: string } } } } }>(
      UPSERT_BUCKET,
      { name: input.runId, project: input.project, entity: input.entity, displayName: input.displayName, config: input.config },
      signal,
    );
    const bucket = data.upsertBucket?.bucket;
    const entity = bucket?.project?.entity?.name ?? input.entity;
    if (entity === undefined) throw new WandbError("upsertBucket answered without the run's entity", { retryable: false });
    return { entity, project: bucket?.project?.name ?? input.project, runId: bucket?.name ?? input.runId };
  }

  async fileStream(run: RunPath, payload: FileStreamPayload, signal?: AbortSignal): Promise<void> {
    const url = `${this.baseUrl}/files/${encodeURIComponent(run.entity)}/${encodeURIComponent(run.project)}/${encodeURIComponent(run.runId)}/file_stream`;
    await this.request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) }, signal);
  }

  /** Uploads run files: asks for signed URLs, then PUTs each file's bytes. */
  async uploadFiles(run: RunPath, items: readonly UploadItem[], signal?: AbortSignal): Promise<void> {
    if (items.length === 0) return;
    const data = await this.graphql<{
      model?: { bucket?: { files?: { uploadHeaders?: string[]; edges?: { node?: { name?: string; url?: string } }[] } } };
    }>(RUN_UPLOAD_URLS, { name: run.project, entity: run.entity, run: run.runId, files: items.map((item) => item.name) }, signal);
    const files = data.model?.bucket?.files;
    const urls = new Map((files?.edges ?? []).map((edge) => [edge.node?.name, edge.node?.url]));
    const headers: Record<string, string> = {};
    for (const header of files?.uploadHeaders ?? []) {
      const separator = header.indexOf(':');
      if (separator > 0) headers[header.slice(0, separator).trim()] = header.slice(separator + 1).trim();
    }
    for (const item of items) {
      const url = urls.get(item.name);
      if (url === undefined) throw new WandbError(`RunUploadUrls gave no upload URL for '${item.name}'`, { retryable: false });
      const body = item.content ?? (await readUpload(item));
      await this.request(url, { method: 'PUT', headers, body }, signal, false);
    }
  }

  async graphql<T>(query: string, variables: Record<string, unknown>, signal?: AbortSignal): Promise<T> {
    const response = await this.request(`${this.baseUrl}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) }, signal);
    let answer: { data?: T; errors?: { message?: string }[] };
    try {
      answer = (await response.json()) as typeof answer;
    } catch (error) {
      throw new WandbError(`W&B GraphQL answered with something that is not JSON: ${messageOf(error)}`, { retryable: true, cause: error });
    }
    if (answer.errors !== undefined && answer.errors.length > 0) {
      throw new WandbError(`W&B GraphQL error: ${answer.errors.map((error) => error.message ?? '?').join('; ')}`, { retryable: false });
    }
    if (answer.data === undefined) throw new WandbError('W&B GraphQL answered without data', { retryable: true });
    return answer.data;
  }

  /** One HTTP request; `authorized` is false for signed upload URLs, which carry their own credentials. */
  private async request(url: string, init: RequestInit, signal: AbortSignal | undefined, authorized = true): Promise<Response> {
    const timeout = AbortSignal.timeout(this.requestTimeoutMs);
    const headers = { 'user-agent': USER_AGENT, ...(authorized ? { authorization: this.authorization } : {}), ...(init.headers as Record<string, string>) };
    let response: Response;
    try {
      response = await fetch(url, { ...init, headers, signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]) });
    } catch (error) {
      throw new WandbError(`cannot reach W&B at ${new URL(url).origin}: ${describeFetchError(error)}`, { retryable: true, cause: error });
    }
    if (!response.ok) {
      const detail = (await response.text().catch(() => '')).slice(0, 200);
      const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
      throw new WandbError(`W&B answered HTTP ${response.status} for ${init.method ?? 'GET'} ${new URL(url).pathname}${detail === '' ? '' : `: ${detail}`}`, {
        retryable,
        status: response.status,
      });
    }
    return response;
  }
}

async function readUpload(item: UploadItem): Promise<Uint8Array> {
  if (item.path === undefined) throw new WandbError(`upload '${item.name}' has neither a path nor content`, { retryable: false });
  try {
    return await fs.readFile(item.path);
  } catch (error) {
    // A checkpoint the trainer has since deleted will not come back: do not retry it.
    throw new WandbError(`cannot read ${item.path} to upload it as '${item.name}': ${messageOf(error)}`, { retryable: false, cause: error });
  }
}

/** fetch hides the reason (ECONNREFUSED, a timeout) in `cause`. */
function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if ((error as { name?: string }).name === 'TimeoutError') return 'request timed out';
  return cause?.code ?? cause?.message ?? messageOf(error);
}
