// A Worker in the test's own process, for tests that inject faults into node:fs/promises with vi.mock (a
// worker child process would not see them). Codex is never found: these tests look at what comes before.
import { DEFAULT_POLICY } from '../../src/spool/policy.js';
import type { SpoolLayout } from '../../src/spool/layout.js';
import { Worker, type WorkerOptions } from '../../src/worker/worker.js';

/** A worker on `layout` that logs into `logs`, with short timers, `once` as given. */
export function inProcessWorker(layout: SpoolLayout, logs: string[], options: Partial<WorkerOptions> = {}): Worker {
  return new Worker({
    layout,
    codexBin: '/nonexistent/codex',
    codexVersion: null,
    concurrency: 1,
    settleMs: 0,
    rejectAfterMs: 0,
    rescanMs: 100,
    graceMs: 100,
    defaultTimeoutMs: 10_000,
    stallMs: 10_000,
    retryBaseMs: 100,
    policy: DEFAULT_POLICY,
    onDone: null,
    once: true,
    pollMs: 100,
    allowSharedSpool: true,
    log: (line) => void logs.push(line),
    ...options,
  });
}
