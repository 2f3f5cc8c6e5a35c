import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

// Tests import workspace packages from source, so a change in core is seen by every adapter test
// without a rebuild; `pnpm test` still builds and type-checks everything first.
export default defineConfig({
  resolve: {
    alias: {
      // Subpaths before their package: an alias also matches `<key>/…`.
      '@wimse/core/adapter': fileURLToPath(new URL('./packages/core/src/adapter-entry.ts', import.meta.url)),
      '@wimse/core/node': fileURLToPath(new URL('./packages/core/src/node.ts', import.meta.url)),
      '@wimse/core/otel': fileURLToPath(new URL('./packages/core/src/otel.ts', import.meta.url)),
      '@wimse/core': src('core'),
      '@wimse/test-support': fileURLToPath(new URL('./packages/test-support/src', import.meta.url)),
      '@wimse/identity-server/keyring': fileURLToPath(new URL('./apps/identity-server/src/keyring.ts', import.meta.url)),
      '@wimse/express': src('express'),
      '@wimse/fastify': src('fastify'),
      '@wimse/hono': src('hono'),
      '@wimse/nestjs': src('nestjs'),
      '@wimse/redis': src('redis'),
    },
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'apps/*/test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    reporters: ['default', ['json', { outputFile: '.vitest-results.json' }]],
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
