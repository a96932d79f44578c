import { loadSae } from '@nnd/sae';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyLanguageModelPresent } from './language-model.test-support.js';

/**
 * The root README's library example, run as written: the ```ts block of its
 * "## Library" section is copied into a fresh ESM project whose
 * node_modules/@nnd/* point at this repository's packages, and run with
 * Node, offline and with no W&B settings. Taken from README.md itself, so
 * the README and this test cannot drift apart.
 */
const repository = fileURLToPath(new URL('../../..', import.meta.url));

function libraryExample(readme: string): string {
  const section = readme.slice(readme.indexOf('\n## Library\n'));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (match === null) throw new Error('README.md has no ```ts block under "## Library".');
  return match[1];
}

let directory: string;
let wandbServer: Server;
const wandbRequests: string[] = [];
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-readme-'));
  await writeFile(join(directory, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  await mkdir(join(directory, 'node_modules', '@nnd'), { recursive: true });
  for (const name of readdirSync(join(repository, 'packages'))) {
    if (existsSync(join(repository, 'packages', name, 'package.json'))) {
      await symlink(join(repository, 'packages', name), join(directory, 'node_modules', '@nnd', name), 'dir');
    }
  }
  await writeFile(join(directory, 'example.ts'), libraryExample(readFileSync(join(repository, 'README.md'), 'utf8')));
  // Anything sent to W&B would land here: the example sets no key and no wandb_project, so nothing must.
  wandbServer = createServer((request, response) => {
    wandbRequests.push(`${request.method} ${request.url}`);
    response.writeHead(500).end();
  });
  await new Promise<void>((resolve) => wandbServer.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  await new Promise((resolve) => wandbServer.close(resolve));
  await rm(directory, { recursive: true, force: true });
});

describe('the README library example', () => {
  it.skipIf(!tinyLanguageModelPresent())(
    'trains on the shipped LM offline, writes checkpoints loadSae reads with SAELens metadata, and leaves W&B alone',
    async () => {
      const tsx = pathToFileURL(createRequire(join(repository, 'package.json')).resolve('tsx')).href;
      const port = (wandbServer.address() as { port: number }).port;
      const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, ['--conditions=@nnd/source', '--import', tsx, 'example.ts'], {
          cwd: directory,
          // No network settings beyond the fake W&B address; HOME is the temp folder, so no ~/.netrc key is found either.
          env: { PATH: process.env.PATH, HOME: directory, WANDB_BASE_URL: `http://127.0.0.1:${port}`, HF_ENDPOINT: 'http://127.0.0.1:9', NND_NO_RELAUNCH: '1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
        child.on('error', reject);
        child.on('close', (exitCode) => resolve({ code: exitCode, stdout: out, stderr: err }));
      });
      expect(code, `${stdout}\n${stderr}`).toBe(0);
      const printed = /topk SAE, 2048 features, in (\S+)/.exec(stdout);
      expect(printed, stdout).not.toBeNull();
      const checkpoint = printed![1];
      expect(checkpoint).toMatch(/runs\/tiny-lm_blocks\.2\.hook_resid_pre_2048_topk_32_0\.0003\/checkpoints\/step_24$/);

      const { sae, params, metadata } = await loadSae(checkpoint);
      expect(sae.config).toMatchObject({ architecture: 'topk', act_size: 128, dict_size: 2048, top_k: 32 });
      expect(params.W_dec.shape).toEqual([2048, 128]);
      // What SAELens 6.x needs to load the folder and attach it to a model (HookedSAETransformer.add_sae).
      const cfg = JSON.parse(readFileSync(join(checkpoint, 'cfg.json'), 'utf8')) as { architecture: string; d_in: number; d_sae: number; k: number; metadata: Record<string, unknown> };
      expect(cfg).toMatchObject({ architecture: 'topk', d_in: 128, d_sae: 2048, k: 32 });
      expect(metadata).toMatchObject({ hook_name: 'blocks.2.hook_resid_pre', model_name: 'tiny-lm' });
      expect(typeof cfg.metadata.sae_lens_version).toBe('string');
      expect(existsSync(join(checkpoint, 'sae_weights.safetensors'))).toBe(true);

      const run = join(directory, 'runs', 'tiny-lm_blocks.2.hook_resid_pre_2048_topk_32_0.0003');
      expect(readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(24);
      expect(wandbRequests).toEqual([]);
      expect(stderr).not.toMatch(/W&B|wandb/i);
    },
    600_000,
  );
});
