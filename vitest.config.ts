import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The chaos suite has its own config (vitest.chaos.config.ts): npm test runs it second, npm run chaos alone.
    exclude: ['test/chaos/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real worker and Codex processes: two files at a time fit 2 cores.
    maxWorkers: 2,
    projects: [
      {
        // The pure modules (npm run test:unit): no processes, no chdir, spies restored after each test, so
        // they share threads and their module graph (about a third of the CPU of a fork each).
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], pool: 'threads', isolate: false },
      },
      {
        // A fork each: the in-process CLI (test/helpers/spool-env.ts) changes the cwd and environment.
        extends: true,
        test: { name: 'integration', include: ['test/*.test.ts'] },
      },
    ],
  },
});
