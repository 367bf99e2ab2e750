// The chaos suite (`npm run chaos`; `npm test` runs it after the main suite): many workers, many jobs,
// SIGKILLs, bad input. Slow and heavy, so its files run one at a time, and only here: test/chaos/* skip
// themselves unless CODEX_SPOOL_CHAOS=1.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts'],
    env: { CODEX_SPOOL_CHAOS: '1' },
    testTimeout: 240_000,
    hookTimeout: 60_000,
    // One file at a time: each one loads both cores with worker and Codex processes, and timing matters.
    fileParallelism: false,
    maxWorkers: 1,
    reporters: ['verbose'],
  },
});
