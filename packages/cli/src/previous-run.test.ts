import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { setAsidePreviousRun } from './previous-run.js';

it('moves an earlier run aside, keeping its files, and does nothing when there is none', async () => {
  const root = await mkdtemp(join(tmpdir(), 'nnd-previous-'));
  try {
    const run = join(root, 'run');
    expect(await setAsidePreviousRun(run)).toBeUndefined();
    await mkdir(run);
    await writeFile(join(run, 'summary.json'), '{}');
    const aside = await setAsidePreviousRun(run, new Date('2025-01-02T03:04:05.678Z'));
    expect(aside).toBe(`${run}.previous-2025-01-02T03-04-05Z`);
    expect(existsSync(run)).toBe(false);
    expect(await readFile(join(aside!, 'summary.json'), 'utf8')).toBe('{}');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
