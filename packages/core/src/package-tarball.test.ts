import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The package as npm users get it, from a checkout without build outputs:
 * `pnpm pack` must build first (the `prepack` script every package has), and
 * the published exports must load from CommonJS too (`require(esm)`, Node
 * >= 20.19), which needs the `default` condition beside `import`.
 */
const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let directory: string;
let tarball: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nnd-core-pack-'));
  // As in a fresh clone: no dist/ until prepack builds it.
  await rm(join(packageRoot, 'dist'), { recursive: true, force: true });
  execFileSync('pnpm', ['pack', '--pack-destination', directory], { cwd: packageRoot, stdio: 'pipe' });
  const [name] = (await readdir(directory)).filter((file) => file.endsWith('.tgz'));
  tarball = join(directory, name);
}, 180_000);
afterAll(() => rm(directory, { recursive: true, force: true }));

describe('@nnd/core as packed for the registry', () => {
  it('holds the built code and declarations, not the sources or tests', () => {
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
    expect(files).toContain('package/dist/index.js');
    expect(files).toContain('package/dist/index.d.ts');
    expect(files).toContain('package/package.json');
    expect(files.filter((file) => file.startsWith('package/src/') || file.endsWith('.test.ts'))).toEqual([]);
  });

  it('loads with require() from CommonJS and with import from ESM', async () => {
    const installed = join(directory, 'consumer', 'node_modules', '@nnd', 'core');
    await mkdir(installed, { recursive: true });
    execFileSync('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
    const cwd = join(directory, 'consumer');
    const required = execFileSync(process.execPath, ['--no-warnings', '-e', "const core = require('@nnd/core'); process.stdout.write(typeof core.Graph + ' ' + typeof core.NndError)"], {
      cwd,
      encoding: 'utf8',
    });
    expect(required).toBe('function function');
    const imported = execFileSync(process.execPath, ['--no-warnings', '--input-type=module', '-e', "const core = await import('@nnd/core'); process.stdout.write(typeof core.Graph)"], {
      cwd,
      encoding: 'utf8',
    });
    expect(imported).toBe('function');
  });
});
