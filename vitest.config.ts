import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The chaos suite has its own config (vitest.chaos.config.ts): npm test runs it second, npm run chaos alone.
    exclude: ['test/chaos/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real worker and Codex processes: two files at a time fit 2 cores.
    maxWorkers: 2,
  },
});
