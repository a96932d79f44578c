import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from './dataset-error.js';
import { hubDatasetSource } from './hub-dataset-source.js';
import { openDataset } from './open-dataset.js';
import { collect, writeParquet } from './test-fixtures.test-support.js';

let root: string;
let server: Server;
let hubUrl: string;
const requests: { method: string; url: string; range?: string }[] = [];
/** Folders served per `id@revision`. */
const repositories = new Map<string, string>();
let failDataReads = false;

const pileTexts = Array.from({ length: 30 }, (_, index) => `pile document ${index}`);
const webTexts = Array.from({ length: 12 }, (_, index) => `web page ${index}`);

async function listTree(folder: string): Promise<{ type: string; path: string; size: number; oid: string }[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  const listed = [];
  for (const entry of entries) {
    const path = relative(folder, join(entry.parentPath, entry.name));
    const size = entry.isFile() ? (await readFile(join(folder, path))).length : 0;
    listed.push({ type: entry.isFile() ? 'file' : 'directory', path, size, oid: `oid-${path}` });
  }
  return listed.sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * The hub's two endpoints that dataset streaming uses, as the hub lays them
 * out: the tree listing (paginated with a Link header, two entries a page)
 * and file resolution with HTTP range requests.
 */
function serveLikeTheHub(): Promise<string> {
  server = createServer(async (request, response) => {
    const url = new URL(request.url!, 'http://127.0.0.1');
    requests.push({ method: request.method!, url: request.url!, range: request.headers.range });
    const notFound = () => response.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: 'Repository not found' }));
    const tree = /^\/api\/datasets\/([^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(url.pathname);
    if (tree) {
      const folder = repositories.get(`${tree[1]}@${decodeURIComponent(tree[2])}`);
      if (!folder) return notFound();
      const entries = await listTree(folder);
      const cursor = Number(url.searchParams.get('cursor') ?? 0);
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      if (cursor + 2 < entries.length) {
        const next = new URL(url);
        next.searchParams.set('cursor', String(cursor + 2));
        headers.Link = `<${hubUrl}${next.pathname}${next.search}>; rel="next"`;
      }
      return response.writeHead(200, headers).end(JSON.stringify(entries.slice(cursor, cursor + 2)));
    }
    const resolve = /^\/datasets\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const folder = resolve && repositories.get(`${resolve[1]}@${decodeURIComponent(resolve[2])}`);
    if (!resolve || !folder) return notFound();
    if (failDataReads) return response.writeHead(503).end('unavailable');
    let body: Buffer;
    try {
      body = await readFile(join(folder, decodeURIComponent(resolve[3])));
    } catch {
      return response.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: 'Entry not found' }));
    }
    const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? '');
    const headers = { 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' };
    if (!range) return response.writeHead(200, { ...headers, 'Content-Length': body.length }).end(request.method === 'HEAD' ? undefined : body);
    const start = Number(range[1]);
    const end = range[2] === '' ? body.length - 1 : Math.min(Number(range[2]), body.length - 1);
    response.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${end}/${body.length}`, 'Content-Length': end - start + 1 });
    response.end(body.subarray(start, end + 1));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`)));
}

async function repository(id: string, revision: string, files: Record<string, Record<string, string[]> | string>): Promise<void> {
  const folder = join(root, id, revision.replaceAll('/', '_'));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(folder, path)), { recursive: true });
    if (typeof content === 'string') await writeFile(join(folder, path), content);
    else await writeParquet(join(folder, path), content, 8);
  }
  repositories.set(`${id}@${revision}`, folder);
}

const texts = (documents: Awaited<ReturnType<typeof collect>>) => documents.map((document) => ('text' in document ? document.text : ''));

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nnd-hub-'));
  hubUrl = await serveLikeTheHub();
  // NeelNanda/pile-10k keeps Parquet files on main under data/.
  await repository('NeelNanda/pile-10k', 'main', {
    'README.md': '# pile-10k',
    'data/train-00000-of-00002.parquet': { text: pileTexts.slice(0, 20), meta: pileTexts.slice(0, 20) },
    'data/train-00001-of-00002.parquet': { text: pileTexts.slice(20), meta: pileTexts.slice(20) },
  });
  // Skylion007/openwebtext has a loading script on main; the hub's conversion branch has the Parquet files.
  await repository('Skylion007/openwebtext', 'main', { 'openwebtext.py': '# script', 'README.md': '# owt' });
  await repository('Skylion007/openwebtext', 'refs/convert/parquet', {
    'plain_text/partial-train/0000.parquet': { text: webTexts.slice(0, 5) },
    'plain_text/partial-train/0001.parquet': { text: webTexts.slice(5) },
  });
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(root, { recursive: true, force: true });
});

describe('hubDatasetSource', () => {
  it('streams a dataset whose Parquet files are on main, with range requests, through a paginated listing', async () => {
    requests.length = 0;
    const source = await hubDatasetSource('NeelNanda/pile-10k', { hubUrl });
    expect(source.description).toBe('hub NeelNanda/pile-10k@main train (2 Parquet files)');
    expect(texts(await collect(source))).toEqual(pileTexts);
    expect(texts(await collect(source, 25))).toEqual(pileTexts.slice(25));
    expect(requests.filter((request) => request.url.includes('/tree/')).length).toBeGreaterThan(1);
    const dataReads = requests.filter((request) => request.url.includes('/resolve/'));
    expect(dataReads.length).toBeGreaterThan(0);
    expect(dataReads.every((request) => request.method === 'GET' && request.range !== undefined)).toBe(true);
  });

  it('falls back to the refs/convert/parquet branch, partial splits included, and is reached through openDataset', async () => {
    const source = await openDataset('Skylion007/openwebtext', { hubUrl });
    expect(source.description).toBe('hub Skylion007/openwebtext@refs/convert/parquet plain_text/train (2 Parquet files)');
    expect(texts(await collect(source))).toEqual(webTexts);
  });

  it('names the split and the files it saw when none match', async () => {
    await expect(hubDatasetSource('NeelNanda/pile-10k', { hubUrl, split: 'validation' })).rejects.toThrow(
      /no Parquet files for split 'validation' \(looked in main: data\/train-00000-of-00002\.parquet.*; refs\/convert\/parquet: no Parquet files\)/,
    );
  });

  it('explains an unknown dataset and an unreachable hub: the id, the request tried, and how to provide the files locally', async () => {
    await expect(hubDatasetSource('nobody/nothing', { hubUrl })).rejects.toThrow(/the hub answered 404 \(no such dataset or revision 'main', or it is gated or private: set HF_TOKEN\)/);
    const offline: typeof fetch = async () => {
      throw new TypeError('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND huggingface.co') });
    };
    const failure = await hubDatasetSource('Skylion007/openwebtext', { fetch: offline }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DatasetError);
    const message = (failure as Error).message;
    expect(message).toContain("Cannot stream dataset 'Skylion007/openwebtext' from the Hugging Face hub");
    expect(message).toContain('GET https://huggingface.co/api/datasets/Skylion007/openwebtext/tree/main?recursive=true');
    expect(message).toContain('fetch failed: getaddrinfo ENOTFOUND huggingface.co');
    expect(message).toContain('huggingface-cli download --repo-type dataset Skylion007/openwebtext --include "*.parquet" --local-dir <dir>');
    expect(message).toContain('--revision refs/convert/parquet');
    expect(message).toContain("pass its path instead of the id: a directory of .parquet files or one .parquet file (openDataset('<dir>')");
  });

  it('turns a failure while reading the files into the same advice', async () => {
    const source = await hubDatasetSource('NeelNanda/pile-10k', { hubUrl });
    failDataReads = true;
    try {
      await expect(collect(source)).rejects.toThrow(
        /Reading bytes .* of http:\/\/127\.0\.0\.1:\d+\/datasets\/NeelNanda\/pile-10k\/resolve\/main\/data\/train-00000-of-00002\.parquet \(dataset 'NeelNanda\/pile-10k'\) failed: fetch failed 503\. To use it without network access/,
      );
    } finally {
      failDataReads = false;
    }
  });
});
