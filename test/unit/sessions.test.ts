// Pure parts of sessions and history: the token ledger, what a retry queues, what a run is told, when a worktree is kept.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keepReason, worktreeAt, type WorktreeState } from '../../src/codex/worktree.js';
import { worktreeOf } from '../../src/spool/layout.js';
import { retryJobOf } from '../../src/cli/control.js';
import type { RunSummary, Usage } from '../../src/spool/schema.js';
import { CONTINUE_PREFIX, runPrompt } from '../../src/worker/run-job.js';
import { runFiles } from '../../src/spool/run-files.js';
import { spoolLayout } from '../../src/spool/layout.js';
import { usageLedger, type LedgerRow } from '../../src/read/usage.js';

const session = (n: number) => `01a2122a-e8ea-7501-90e5-${String(n).padStart(12, '0')}`;
const usage = (n: number): Usage => ({ input_tokens: 10 * n, cached_input_tokens: n, output_tokens: 2 * n, reasoning_output_tokens: n });

function summary(over: Partial<RunSummary> & { run_id: string }): RunSummary {
  return {
    job_id: 'j',
    session_id: null,
    resumed_from: null,
    repo: '/r',
    task: 't',
    status: 'succeeded',
    exit_code: 0,
    signal: null,
    started_at: '2026-12-01T00:00:00.000Z',
    ended_at: '2026-12-01T00:00:01.000Z',
    elapsed_seconds: 1,
    final_message: null,
    usage: null,
    commands: { count: 0, failed: 0, items: [] },
    files_changed: { count: 0, paths: [] },
    errors: [],
    files: runFiles('/runs', over.run_id),
    ...over,
  };
}

const sum = (rows: LedgerRow[]) => rows.reduce((n, r) => n + r.usage.input_tokens, 0);

describe('usageLedger', () => {
  it('counts each session once, whatever the order of its runs and how they fall on jobs and days', () => {
    // Sessions as chains of runs; each run's usage is its session's cumulative total (some report none).
    const run = fc.record({ add: fc.integer({ min: 0, max: 1000 }), reported: fc.boolean(), job: fc.constantFrom('a', 'b', 'c') });
    const chains = fc.array(fc.array(run, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(chains, fc.array(fc.integer(), { minLength: 20, maxLength: 20 }), (chains, keys) => {
        const runs: RunSummary[] = [];
        const finals = new Map<string, number>();
        let clock = 0;
        chains.forEach((c, s) => {
          let total = 0;
          c.forEach((r, i) => {
            total += r.add;
            const reported = r.reported || i === c.length - 1;
            if (reported) finals.set(session(s), total);
            const started_at = new Date(Date.UTC(2026, 11, 1) + clock++ * 7 * 3600_000).toISOString(); // spread over days
            runs.push(
              summary({
                run_id: `r${s}-${i}`,
                job_id: r.job,
                session_id: session(s),
                resumed_from: i ? session(s) : null,
                started_at,
                usage: reported ? usage(total) : null,
              }),
            );
          });
        });
        const shuffled = runs
          .map((r, i) => [keys[i % keys.length]!, r] as const)
          .sort((a, b) => a[0] - b[0])
          .map(([, r]) => r);
        const ledger = usageLedger(shuffled);
        const expected = [...finals.values()].reduce((a, b) => a + b, 0) * 10;
        expect(ledger.total.usage.input_tokens).toBe(expected);
        expect(sum(ledger.jobs)).toBe(expected);
        expect(sum(ledger.days)).toBe(expected);
        for (const [s, total] of finals) expect(ledger.sessions.find((r) => r.key === s)!.usage.input_tokens).toBe(total * 10);
      }),
    );
  });

  it('groups by UTC day, latest first, and ranks sessions and jobs by tokens', () => {
    const ledger = usageLedger([
      summary({ run_id: '1', job_id: 'a', session_id: session(1), usage: usage(1), started_at: '2026-12-01T10:00:00.000Z' }),
      summary({
        run_id: '2',
        job_id: 'b',
        session_id: session(1),
        resumed_from: session(1),
        usage: usage(5),
        started_at: '2026-12-02T10:00:00.000Z',
      }),
      summary({ run_id: '3', job_id: 'c', session_id: session(2), usage: usage(2), started_at: '2026-12-02T11:00:00.000Z' }),
    ]);
    expect(ledger.days.map((d) => [d.key, d.usage.input_tokens])).toEqual([
      ['2026-12-02', 60],
      ['2026-12-01', 10],
    ]);
    expect(ledger.jobs.map((j) => [j.key, j.usage.input_tokens])).toEqual([
      ['b', 40],
      ['c', 20],
      ['a', 10],
    ]);
    expect(ledger.sessions.map((j) => [j.key, j.runs])).toEqual([
      [session(1), 2],
      [session(2), 1],
    ]);
  });
});

describe('retry', () => {
  const result = {
    run_id: 'r1',
    session_id: session(1),
    status: 'cancelled',
    exit_code: null,
    elapsed_seconds: 3,
    final_message: null,
    error: 'x',
    summary: null,
  };
  const now = new Date('2026-12-01T00:00:00Z');

  it('continues the session of the run it retries, saying how that run ended; keeps the task and the runs', () => {
    const job = retryJobOf({ repo: '/r', task: 'Do it', queued_at: 1, attempts: 2, runs: ['r0', 'r1'], result }, now);
    expect(job).toEqual({
      repo: '/r',
      task: 'Do it',
      queued_at: now.getTime(),
      attempts: 0,
      runs: ['r0', 'r1'],
      resume_session: session(1),
      retry_of: 'cancelled',
      reason: 'retry asked for',
    });
    expect(runPrompt(job)).toBe(
      'This is a retry: your previous run of this task was cancelled. Continue the task where you left off. The task was:\n\nDo it',
    );
  });

  it('starts afresh when the run had no session (cancelled before it ran)', () => {
    const job = retryJobOf({ repo: '/r', task: 'Do it', result: { ...result, run_id: null, session_id: null } }, now);
    expect(job.resume_session).toBeUndefined();
    expect(runPrompt(job)).toBe('Do it');
  });

  it('a requeue after an interruption says so; a plain job gets its task as submitted', () => {
    const base = { repo: '/r', task: 'Do it', queued_at: 1, attempts: 1 };
    expect(runPrompt({ ...base, resume_session: session(1) })).toBe(`${CONTINUE_PREFIX}Do it`);
    expect(runPrompt(base)).toBe('Do it');
  });
});

describe('keepReason', () => {
  const wt: WorktreeState = { id: 'x', path: '/w', branch: 'codex-spool/x', repo: '/r', base: 'main', dirty: false, unmerged: 0 };
  it('nothing to lose: removable; uncommitted changes or unmerged commits: kept, saying which', () => {
    expect(keepReason(wt)).toBeNull();
    expect(keepReason({ ...wt, dirty: true, unmerged: 2 })).toBe('uncommitted changes');
    expect(keepReason({ ...wt, unmerged: 1 })).toBe('1 unmerged commit');
    expect(keepReason({ ...wt, unmerged: 3 })).toBe('3 unmerged commits');
  });
});

describe('worktreeAt', () => {
  it('names the job worktree a run worked in (what recovery files in its result), nothing for other directories', () => {
    const layout = spoolLayout('/srv/spool-root');
    expect(worktreeAt(layout, worktreeOf(layout, 'wt1').path)).toEqual({
      path: '/srv/spool-root/spool/worktrees/wt1',
      branch: 'codex-spool/wt1',
    });
    expect(worktreeAt(layout, '/home/me/repo')).toBeUndefined();
    expect(worktreeAt(layout, '/srv/spool-root/spool/worktrees/wt1/sub')).toBeUndefined();
  });
});
