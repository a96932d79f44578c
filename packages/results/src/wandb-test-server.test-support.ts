import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'wandb');

/** The entity/project the fixtures answer for. */
export const FIXTURE_PROJECT = 'patrickaaleask/batchtopk_comparison';

/** One request the server received, for assertions. */
export interface ReceivedRequest {
  authorization: string | undefined;
  operation: string;
  variables: Record<string, unknown>;
}

export interface WandbTestServer {
  readonly baseUrl: string;
  readonly requests: ReceivedRequest[];
  /** When set, every request gets this HTTP status with a plain-text body. */
  failWith: number | undefined;
  close(): Promise<void>;
}

/**
 * A loopback stand-in for W&B's public GraphQL endpoint. It answers the two
 * operations `loadWandbRuns` sends from files in `fixtures/wandb/`, in the
 * shape W&B answers them (config and summaryMetrics as JSON strings with
 * W&B's bookkeeping keys, history as one JSON string per row, bare NaN
 * inside those strings): `Runs` pages by cursor (`runs-page-1.json`, then
 * `runs-page-2.json` after the first page's end cursor), `RunFullHistory`
 * by run name (`history-<name>.json`). Requests without the key get 401, as
 * W&B answers them.
 */
export async function startWandbTestServer(options: { apiKey: string }): Promise<WandbTestServer> {
  const expected = `Basic ${Buffer.from(`api:${options.apiKey}`).toString('base64')}`;
  const requests: ReceivedRequest[] = [];
  const state: { failWith: number | undefined } = { failWith: undefined };
  const [entity, project] = FIXTURE_PROJECT.split('/');

  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const send = (status: number, body: string, type = 'application/json') => {
        response.writeHead(status, { 'content-type': type });
        response.end(body);
      };
      if (request.method !== 'POST' || request.url !== '/graphql') return send(404, 'not found', 'text/plain');
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { query: string; variables: Record<string, unknown> };
      const operation = /^\s*query\s+(\w+)/.exec(body.query)?.[1] ?? '?';
      requests.push({ authorization: request.headers.authorization, operation, variables: body.variables });
      if (state.failWith !== undefined) return send(state.failWith, 'fake outage', 'text/plain');
      if (request.headers.authorization !== expected) return send(401, '{"errors":[{"message":"user is not logged in"}]}');
      const variables = body.variables;
      if (variables.entity !== entity || variables.project !== project) return send(200, '{"data":{"project":null}}');
      if (operation === 'Runs') {
        const page = variables.cursor === null || variables.cursor === undefined ? 1 : variables.cursor === 'cursor-p9d2mq1b' ? 2 : undefined;
        if (page === undefined) return send(200, JSON.stringify({ errors: [{ message: `unknown cursor ${String(variables.cursor)}` }] }));
        return send(200, fs.readFileSync(path.join(FIXTURES, `runs-page-${page}.json`), 'utf8'));
      }
      if (operation === 'RunFullHistory') {
        const file = path.join(FIXTURES, `history-${String(variables.name)}.json`);
        if (!fs.existsSync(file)) return send(200, '{"data":{"project":{"run":null}}}');
        return send(200, fs.readFileSync(file, 'utf8'));
      }
      return send(400, JSON.stringify({ errors: [{ message: `Cannot query operation ${operation}` }] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    get failWith() {
      return state.failWith;
    },
    set failWith(status) {
      state.failWith = status;
    },
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}
