// A worker paused in the middle of a recovery (SIGSTOP, a frozen VM) past the lock's stale time may find,
// when let go, that another worker has taken the job over: it must touch nothing of it, and say so. Here
// the pause is the process frozen (Atomics.wait) where recovery asks whether the run's Codex is alive.
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type * as Runner from '../src/codex/runner.js';
import { ensureSpool, spoolLayout } from '../src/spool/layout.js';
import { createRunDir, runFiles } from '../src/spool/run-files.js';
import { recoverOrphans } from '../src/worker/recovery.js';

const STALE_MS = 3_000;
/** How many more of recovery's looks at a run's Codex freeze the process past the stale time. */
let freezes = 0;
vi.mock('../src/codex/runner.js', async (importOriginal) => {
  const runner = await importOriginal<typeof Runner>();
  const isRunAlive: typeof runner.isRunAlive = (meta) => {
    if (freezes > 0 && freezes--) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, STALE_MS + 300);
    return runner.isRunAlive(meta);
  };
  return { ...runner, isRunAlive };
});

let tmp: string;
beforeAll(async () => (tmp = await mkdtemp(join(tmpdir(), 'codex-spool-recovery-paused-'))));
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('a recovery paused past the stale time', () => {
  it('touches nothing of the job, says so, and the next pass recovers it', async () => {
    const layout = spoolLayout(join(tmp, 'root'));
    await ensureSpool(layout);
    await writeFile(join(layout.root, 'codex-spool.config.json'), JSON.stringify({ policy: { lock_stale_ms: STALE_MS } }));
    const files = runFiles(layout.runs, 'run-1');
    await createRunDir(files);
    const meta = { run_id: 'run-1', job_id: 'a', repo: '/r', task: 't', resumed_from: null, argv: [], codex_bin: 'codex' };
    await writeFile(
      files.meta,
      JSON.stringify({
        ...meta,
        codex_version: null,
        pid: null,
        started_at: '2026-01-01T00:00:00.000Z',
        status: 'running',
        session_id: null,
      }),
    );
    const active = JSON.stringify({ repo: '/r', task: 't', queued_at: 7, attempts: 0, run_id: 'run-1' });
    await writeFile(layout.job('active', 'a'), active);
    const logs: string[] = [];
    const ctx = { layout, graceMs: 50, retryBaseMs: 30_000, log: (l: string) => void logs.push(l) };
    freezes = 1;
    expect(await recoverOrphans(ctx)).toBe(0);
    expect(logs).toEqual(['lost the claim of a before it was queued again; left to its new owner or the next pass']);
    expect([await readFile(layout.job('active', 'a'), 'utf8'), await readdir(layout.dir('deferred'))]).toEqual([active, []]);
    // Its lock was left to go stale rather than removed (it might have been a taker's): the job is recovered once it has.
    await vi.waitFor(async () => expect(await recoverOrphans(ctx)).toBe(1), { timeout: STALE_MS * 3, interval: 500 });
    expect(logs[1]).toBe('recovered a: queued again (attempt 2)');
  });
});
