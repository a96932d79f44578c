import { readFileSync } from 'node:fs';

/**
 * @nnd/cli's version, from its package.json. Source (src/) and build (dist/)
 * both sit one level below the package root, so the same relative URL
 * finds it in a checkout and in an installed package.
 */
export function cliVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}
