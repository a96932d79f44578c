import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the fake W&B server recorded for one run. */
export interface RecordedRun {
  entity: string;
  project: string;
  displayName: string | undefined;
  /** Unwrapped from W&B's `{desc, value}` shape. */
  config: Record<string, unknown>;
  upserts: number;
  /** History lines by offset, parsed. */
  history: Map<number, Record<string, unknown>>;
  summary: Record<string, unknown> | undefined;
  complete: { exitcode: number; uploaded: string[] } | undefined;
  files: Map<string, Buffer>;
}

export interface FakeWandbServer {
  readonly baseUrl: string;
  readonly port: number;
  /** `ok` answers as W&B does; `fail` answers 500 to everything; `unauthorized` answers 401. */
  mode: 'ok' | 'fail' | 'unauthorized';
  /** In `ok` mode, answer 500 to this many more requests first. */
  failNext: number;
  readonly runs: Map<string, RecordedRun>;
  readonly requestCount: number;
  close(): Promise<void>;
}

/**
 * A loopback stand-in for W&B that speaks the three endpoints the logging
 * package uses (GraphQL upsertBucket and RunUploadUrls, file_stream, signed
 * upload PUTs) and records what arrives. Requests must carry the API key.
 */
export async function startFakeWandbServer(options: { apiKey: string; entity?: string; port?: number }): Promise<FakeWandbServer> {
  const defaultEntity = options.entity ?? 'test-entity';
  const expectedAuthorization = `Basic ${Buffer.from(`api:${options.apiKey}`).toString('base64')}`;
  const runs = new Map<string, RecordedRun>();
  let requestCount = 0;
  let baseUrl = '';

  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      requestCount += 1;
      const body = Buffer.concat(chunks);
      const answer = (status: number, value: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(value));
      };
      if (state.mode === 'fail') return answer(500, { error: 'fake outage' });
      if (state.failNext > 0) {
        state.failNext -= 1;
        return answer(500, { error: 'fake outage' });
      }
      const url = new URL(request.url ?? '/', baseUrl);
      if (url.pathname.startsWith('/upload/')) {
        const [, , runId, name] = url.pathname.split('/');
        const run = runs.get(decodeURIComponent(runId ?? ''));
        if (request.method !== 'PUT' || run === undefined) return answer(404, { error: 'no such upload' });
        run.files.set(decodeURIComponent(name ?? ''), body);
        return answer(200, {});
      }
      if (state.mode === 'unauthorized' || request.headers.authorization !== expectedAuthorization) return answer(401, { error: 'bad key' });
      if (url.pathname === '/graphql' && request.method === 'POST') {
        const { query, variables } = JSON.parse(body.toString('utf8')) as { query: string; variables: Record<string, unknown> };
        if (query.includes('upsertBucket')) return answer(200, { data: upsert(variables) });
        if (query.includes('RunUploadUrls')) return answer(200, { data: uploadUrls(variables) });
        return answer(200, { errors: [{ message: 'unknown operation' }] });
      }
      const stream = /^\/files\/([^/]+)\/([^/]+)\/([^/]+)\/file_stream$/.exec(url.pathname);
      if (stream !== null && request.method === 'POST') {
        const run = runs.get(decodeURIComponent(stream[3] ?? ''));
        if (run === undefined) return answer(404, { error: 'no such run' });
        fileStream(run, JSON.parse(body.toString('utf8')) as Record<string, unknown>);
        return answer(200, { exitcode: null, limits: {} });
      }
      return answer(404, { error: `no route ${request.method} ${url.pathname}` });
    });
  });

  function upsert(variables: Record<string, unknown>) {
    const runId = variables.name as string;
    const entity = (variables.entity as string | undefined) ?? defaultEntity;
    const wrapped = JSON.parse((variables.config as string | undefined) ?? '{}') as Record<string, { value: unknown }>;
    const config = Object.fromEntries(Object.entries(wrapped).map(([key, entry]) => [key, entry.value]));
    const existing = runs.get(runId);
    const run: RecordedRun = existing ?? {
      entity,
      project: variables.project as string,
      displayName: undefined,
      config: {},
      upserts: 0,
      history: new Map(),
      summary: undefined,
      complete: undefined,
      files: new Map(),
    };
    run.upserts += 1;
    run.config = config;
    run.displayName = (variables.displayName as string | undefined) ?? run.displayName;
    runs.set(runId, run);
    return {
      upsertBucket: {
        bucket: { id: `bucket-${runId}`, name: runId, displayName: run.displayName, project: { id: 'p', name: run.project, entity: { id: 'e', name: run.entity } } },
        inserted: existing === undefined,
      },
    };
  }

  function uploadUrls(variables: Record<string, unknown>) {
    const runId = variables.run as string;
    const names = variables.files as string[];
    return {
      model: {
        bucket: {
          id: `bucket-${runId}`,
          files: {
            uploadHeaders: ['X-Fake-Header:yes'],
            edges: names.map((name) => ({ node: { name, url: `${baseUrl}/upload/${encodeURIComponent(runId)}/${encodeURIComponent(name)}` } })),
          },
        },
      },
    };
  }

  function fileStream(run: RecordedRun, payload: Record<string, unknown>) {
    const files = (payload.files ?? {}) as Record<string, { offset: number; content: string[] }>;
    const history = files['wandb-history.jsonl'];
    if (history !== undefined) history.content.forEach((line, index) => run.history.set(history.offset + index, parseWandbJson(line)));
    const summary = files['wandb-summary.json'];
    if (summary !== undefined) run.summary = parseWandbJson(summary.content[summary.content.length - 1] ?? '{}');
    if (payload.complete === true) run.complete = { exitcode: payload.exitcode as number, uploaded: (payload.uploaded as string[] | undefined) ?? [] };
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://127.0.0.1:${port}`;

  const state: FakeWandbServer = {
    baseUrl,
    port,
    mode: 'ok',
    failNext: 0,
    runs,
    get requestCount() {
      return requestCount;
    },
    close() {
      // Keep-alive connections would hold close() open; a real outage drops them too.
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return state;
}

/** W&B lines may hold bare NaN / Infinity, as Python's json writes them. */
function parseWandbJson(line: string): Record<string, unknown> {
  return JSON.parse(line.replace(/(?<=[:,[]\s*)(-?Infinity|NaN)(?=\s*[,}\]])/g, '"$1"')) as Record<string, unknown>;
}
