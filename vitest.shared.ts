import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources through the
// `@nnd/source` export condition, so tests need no prior build.
export default defineConfig({
  resolve: { conditions: ['@nnd/source'] },
  ssr: { resolve: { conditions: ['@nnd/source'] } },
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
