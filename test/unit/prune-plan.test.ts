// What prune removes, as a pure decision over what was listed.
import { describe, expect, it } from 'vitest';
import { prunePlan, type FinishedFile, type LiveJob, type PruneInput } from '../../src/read/prune-plan.js';

const DAY = 86400_000;
const now = Date.UTC(2026, 11, 2);
const cutoffMs = now - 30 * DAY;
const oldRun = (n: number) => `20261001-000000-0000000${n}`; // before the cutoff
const done = (id: string, runId: string, mtimeMs = now - 40 * DAY, sessionId: string | null = null): FinishedFile => ({
  path: `/s/done/${id}.json`,
  state: 'done',
  name: `${id}.json`,
  id,
  mtimeMs,
  runIds: [runId],
  sessionId,
  worktree: null,
  worktreeRepo: null,
});
const live = (id: string, over: Partial<LiveJob> = {}): LiveJob => ({
  id,
  state: 'inbox',
  runId: null,
  earlierRuns: [],
  resume: null,
  ...over,
});
const plan = (over: Partial<PruneInput>) => prunePlan({ cutoffMs, finished: [], runs: [], live: [], cancelRequests: [], ...over });

describe('prunePlan', () => {
  it('keeps an old job a live job resumes by id, with its run; not one resumed by a session id', () => {
    const p = plan({
      finished: [done('a', oldRun(1)), done('b', oldRun(2)), done('c', oldRun(3))],
      runs: [oldRun(1), oldRun(2), oldRun(3)],
      live: [live('f', { resume: 'a' }), live('g', { state: 'deferred', resume: '0199a213-81c0-7800-8aa1-bbab2a035a53' })],
    });
    expect(p.jobs.map((f) => f.id)).toEqual(['b', 'c']);
    expect(p.runs).toEqual([oldRun(2), oldRun(3)]);
    expect(p.keptForResume).toEqual(['a']);
  });

  it('a follow-up by session id keeps the latest finished job of that session (where it runs), whatever the case of the id', () => {
    const session = '0199a213-81c0-7800-8aa1-bbab2a035a53';
    const p = plan({
      finished: [
        done('first', oldRun(1), now - 42 * DAY, session),
        done('last', oldRun(2), now - 41 * DAY, session),
        done('other', oldRun(3)),
      ],
      runs: [oldRun(1), oldRun(2), oldRun(3)],
      live: [live('f', { state: 'active', resume: session.toUpperCase() })],
    });
    expect(p.jobs.map((f) => f.id)).toEqual(['first', 'other']);
    expect(p.runs).toEqual([oldRun(1), oldRun(3)]);
    expect(p.keptForResume).toEqual(['last']);
  });

  it("a job's worktree goes with it unless a job that stays ran in it (a follow-up inherits its worktree)", () => {
    const wt = (id: string) => `/s/worktrees/${id}`;
    const p = plan({
      finished: [
        { ...done('a', oldRun(1)), worktree: wt('a') },
        { ...done('a2', oldRun(2), now), worktree: wt('a') }, // young: stays
        { ...done('b', oldRun(3)), worktree: wt('b') },
        { ...done('b2', oldRun(4)), worktree: wt('b') },
        { ...done('c', oldRun(5)), state: 'rejected', worktree: wt('c') },
      ],
    });
    expect(p.jobs.map((f) => f.id)).toEqual(['a', 'b', 'b2', 'c']);
    expect(p.worktreeIds).toEqual(['b', 'b2']);
  });

  it('a chain of queued follow-ups keeps its finished root; a live job keeps its run and its earlier runs', () => {
    const p = plan({
      finished: [done('root', oldRun(1))],
      runs: [oldRun(1), oldRun(2), oldRun(3)],
      live: [
        live('last', { resume: 'mid' }),
        live('mid', { resume: 'root' }),
        live('busy', { state: 'active', runId: oldRun(2) }),
        live('again', { state: 'deferred', earlierRuns: [oldRun(3)] }),
      ],
    });
    expect(p.jobs).toEqual([]);
    expect(p.runs).toEqual([]);
  });

  it('a young finished job keeps its old run; a rejected file is never kept for a resume', () => {
    const rejected: FinishedFile = { ...done('r', oldRun(9)), state: 'rejected', runIds: [] };
    const p = plan({
      finished: [done('young', oldRun(1), now), rejected],
      runs: [oldRun(1)],
      live: [live('f', { resume: 'r' })],
    });
    expect(p.jobs).toEqual([rejected]);
    expect(p.runs).toEqual([]);
  });

  it('a cancel request stays only while an active job has the run it names (or any run, when pending)', () => {
    const req = (id: string, requested: string | null) => ({ path: `/s/active/${id}.cancel`, id, requested });
    const p = plan({
      live: [
        live('a', { state: 'active', runId: 'r1' }),
        live('b', { state: 'active', runId: 'r2' }),
        live('c', { state: 'active', runId: null }),
        live('q', { state: 'inbox' }),
      ],
      cancelRequests: [req('a', 'r1'), req('b', 'r1'), req('c', 'pending'), req('q', 'pending'), req('gone', 'r3'), req('a2', null)],
    });
    expect(p.cancelRequests.map((c) => c.id)).toEqual(['b', 'q', 'gone', 'a2']);
  });
});
