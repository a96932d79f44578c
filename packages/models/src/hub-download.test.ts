import { createOnnxBackend } from '@nnd/backend-onnx';
import { NndError, readSafetensors, writeSafetensors, type SafetensorsTensor } from '@nnd/core';
import { createServer, type Server } from 'node:http';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HookedTransformer } from './hooked-transformer.js';
import { cachePathFor, resolveModelDirectory } from './hub-download.js';
import { initializeParameters } from './initialize-parameters.js';
import { ModelNotFoundError } from './model-not-found-error.js';
import { saveGpt2Directory } from './save-gpt2-directory.js';
import { TEST_CONFIGS, testTokens } from './test-configs.test-support.js';

const backend = createOnnxBackend({ device: 'cpu' });
let root: string;
let server: Server;
let hubUrl: string;
const requests: string[] = [];
/** Hub ids served, by folder. */
const repositories = new Map<string, string>();

/** Serves folders as the hub lays them out: GET /{id}/resolve/{revision}/{file}, honouring Range as the hub's CDN does. */
function serveLikeTheHub(): Promise<string> {
  server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url!, 'http://localhost').pathname);
    requests.push(path);
    const match = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    const folder = match && repositories.get(match[1]);
    if (!match || !folder) {
      response.writeHead(404, { 'X-Error-Code': 'RepoNotFound', 'Content-Type': 'application/json' }).end(JSON.stringify({ error: 'Repository not found' }));
      return;
    }
    let body: Buffer;
    try {
      body = await readFile(join(folder, match[3]));
    } catch {
      response.writeHead(404, { 'X-Error-Code': 'EntryNotFound', 'Content-Type': 'application/json' }).end(JSON.stringify({ error: 'Entry not found' }));
      return;
    }
    const headers = { ETag: `"${body.length}-${match[3]}"`, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' };
    const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? '');
    if (range) {
      const start = Number(range[1]);
      const end = range[2] === '' ? body.length - 1 : Math.min(Number(range[2]), body.length - 1);
      response.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${end}/${body.length}`, 'Content-Length': end - start + 1 });
      response.end(body.subarray(start, end + 1));
    } else {
      response.writeHead(200, { ...headers, 'Content-Length': body.length }).end(body);
    }
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as { port: number };
      resolve(`http://127.0.0.1:${address.port}`);
    }),
  );
}

const offline: typeof fetch = async () => {
  throw new TypeError('fetch failed', { cause: new Error('connect ENETUNREACH') });
};

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nnd-hub-'));
  const single = join(root, 'repos/single');
  await saveGpt2Directory(single, TEST_CONFIGS.gpt2, initializeParameters(TEST_CONFIGS.gpt2, 3));
  repositories.set('test-org/tiny-gpt2', single);
  // The same weights split into two shards with an index, as large checkpoints are.
  const sharded = join(root, 'repos/sharded');
  await mkdir(sharded, { recursive: true });
  await cp(join(single, 'config.json'), join(sharded, 'config.json'));
  const { tensors } = readSafetensors(new Uint8Array(await readFile(join(single, 'model.safetensors'))));
  const shards: Map<string, SafetensorsTensor>[] = [new Map(), new Map()];
  const weightMap: Record<string, string> = {};
  [...tensors].forEach(([name, tensor], index) => {
    const shard = index % 2;
    shards[shard].set(name, { ...tensor, data: new Uint8Array(tensor.data) });
    weightMap[name] = `model-0000${shard + 1}-of-00002.safetensors`;
  });
  await Promise.all(shards.map((shard, index) => writeSafetensors(join(sharded, `model-0000${index + 1}-of-00002.safetensors`), shard)));
  await writeFile(join(sharded, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  repositories.set('sharded-model', sharded);
  hubUrl = await serveLikeTheHub();
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(root, { recursive: true, force: true });
  await backend.dispose();
});

describe('fromPretrained with hub ids', () => {
  it('downloads into the cache once, then loads offline from it', async () => {
    const cacheDir = join(root, 'cache-a');
    const direct = await HookedTransformer.fromPretrained(repositories.get('test-org/tiny-gpt2')!, { backend });
    const downloaded = await HookedTransformer.fromPretrained('test-org/tiny-gpt2', { backend, cacheDir, hubUrl });
    const cachePath = cachePathFor('test-org/tiny-gpt2', { cacheDir });
    expect(cachePath).toBe(join(cacheDir, 'test-org', 'tiny-gpt2'));
    expect((await readdir(cachePath)).sort()).toEqual(['config.json', 'model.safetensors']);
    expect(requests.some((path) => path === '/test-org/tiny-gpt2/resolve/main/model.safetensors')).toBe(true);
    const tokens = testTokens(2, 6, 40);
    expect(await downloaded.loss(tokens)).toBeCloseTo(await direct.loss(tokens), 6);

    const again = await HookedTransformer.fromPretrained('test-org/tiny-gpt2', { backend, cacheDir, hubUrl, fetch: offline });
    expect(await again.loss(tokens)).toBeCloseTo(await direct.loss(tokens), 6);
    await Promise.all([direct.dispose(), downloaded.dispose(), again.dispose()]);
  });

  it('follows a sharded index and fetches every shard', async () => {
    const cacheDir = join(root, 'cache-b');
    const directory = await resolveModelDirectory('sharded-model', { cacheDir, hubUrl });
    expect((await readdir(directory)).sort()).toEqual(['config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json']);
    const sharded = await HookedTransformer.fromPretrained('sharded-model', { backend, cacheDir, hubUrl, fetch: offline });
    const single = await HookedTransformer.fromPretrained(repositories.get('test-org/tiny-gpt2')!, { backend });
    const tokens = testTokens(1, 5, 40);
    expect(await sharded.loss(tokens)).toBeCloseTo(await single.loss(tokens), 6);
    await Promise.all([sharded.dispose(), single.dispose()]);
  });

  it('offline and not cached: a ModelNotFoundError naming the id, the cache path and how to provide the files', async () => {
    const cacheDir = join(root, 'cache-empty');
    const error = await HookedTransformer.fromPretrained('EleutherAI/pythia-70m', { backend, cacheDir, fetch: offline }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ModelNotFoundError);
    expect(NndError.isInstance(error)).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain("'EleutherAI/pythia-70m'");
    expect(message).toContain(join(cacheDir, 'EleutherAI', 'pythia-70m'));
    expect(message).toContain('huggingface-cli download EleutherAI/pythia-70m config.json model.safetensors tokenizer.json --local-dir');
  });

  it("TransformerLens' gpt2-small is the hub's gpt2", async () => {
    const cacheDir = join(root, 'cache-names');
    const error = await resolveModelDirectory('gpt2-small', { cacheDir, fetch: offline }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ModelNotFoundError);
    expect((error as Error).message).toContain(join(cacheDir, 'gpt2'));
    expect((error as Error).message).toContain("Model 'gpt2'");
  });

  it('unknown repositories and missing directories are ModelNotFoundErrors too', async () => {
    await expect(resolveModelDirectory('nobody/nothing', { cacheDir: join(root, 'cache-c'), hubUrl })).rejects.toThrow(/answered 404/);
    await expect(resolveModelDirectory('./no/such/../dir', { cacheDir: join(root, 'cache-c'), hubUrl })).rejects.toThrow(ModelNotFoundError);
  });
});
