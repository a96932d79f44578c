import type { Options } from 'tsup';

/** How every package builds: ESM for Node 20, with declarations and source maps, from src/index.ts. */
export const packageBuild = {
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
} satisfies Options;
