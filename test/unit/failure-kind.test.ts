import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { classifyFailure, nextAttempt, queuedAgain, retryDelayMs, usageLimitResetAt } from '../../src/worker/retry-policy.js';
import { recordWithoutRun } from '../../src/worker/finished-job.js';
import { FinishedJob, MAX_REASON_CHARS, QueuedJob, type RunSummary } from '../../src/spool/schema.js';

const now = new Date(2026, 10, 25, 14, 0, 0); // local time, as Codex prints it

describe('classifyFailure', () => {
  it('tells usage limits, transient faults and permanent failures apart', () => {
    expect(classifyFailure(["You've hit your usage limit. Try again later."], now).kind).toBe('usage_limit');
    expect(classifyFailure(['We’re currently experiencing high demand, which may cause temporary errors.'], now).kind).toBe('transient');
    expect(classifyFailure(['stream disconnected before completion: idle timeout waiting for SSE'], now).kind).toBe('transient');
    expect(classifyFailure(['exceeded retry limit, last status: 429 Too Many Requests'], now).kind).toBe('transient');
    expect(classifyFailure(['unexpected status 401 Unauthorized'], now).kind).toBe('permanent');
    expect(classifyFailure(['thread/resume: thread/resume failed: no rollout found for thread id x'], now).kind).toBe('permanent');
    expect(classifyFailure(['fake failure'], now).kind).toBe('permanent');
    expect(classifyFailure([], now).kind).toBe('permanent');
  });

  it('a run stopped while Codex was waiting for the network is transient', () => {
    const stopped = 'stopped: no progress within the stall limit while Codex was waiting for the network (last: Reconnecting... 2/5)';
    expect(classifyFailure([stopped, 'turn interrupted'], now).kind).toBe('transient');
    expect(classifyFailure(['Reconnecting... waiting for network (Connection failed: error sending request)'], now).kind).toBe('transient');
  });
});

describe('usageLimitResetAt', () => {
  it('reads "try again in" durations', () => {
    const at = usageLimitResetAt('or try again in 3 days 6 hours 57 minutes.', now);
    expect(at.getTime() - now.getTime()).toBe(((3 * 24 + 6) * 60 + 57) * 60_000);
    expect(usageLimitResetAt('Try again in 2 seconds.', now).getTime() - now.getTime()).toBe(2000);
  });
  it('reads a clock time as today, or tomorrow once passed', () => {
    expect(usageLimitResetAt('purchase more credits or try again at 3:28 PM.', now)).toEqual(new Date(2026, 10, 25, 15, 28));
    expect(usageLimitResetAt('or try again at 9:05 AM.', now)).toEqual(new Date(2026, 10, 26, 9, 5));
  });
  it('reads a full date with an ordinal day', () => {
    expect(usageLimitResetAt('try again at Dec 8th, 2026 12:30 PM.', now)).toEqual(new Date(2026, 11, 8, 12, 30));
  });
  it('waits 30 minutes when the message gives no time', () => {
    expect(usageLimitResetAt("You've hit your usage limit.", now).getTime() - now.getTime()).toBe(30 * 60_000);
  });
});

describe('nextAttempt', () => {
  const spec: QueuedJob = { repo: '/r', task: 'do it', queued_at: 1, attempts: 0 };
  const summary = (errors: string[], session: string | null = null) =>
    ({ status: 'failed', errors, session_id: session }) as unknown as RunSummary;
  const session = '01a21193-f66c-7b90-bbe3-5bb485d74666';

  it('defers a usage limit to its reset without counting an attempt, resuming the session', () => {
    const next = nextAttempt(spec, summary(["You've hit your usage limit. Try again in 5 minutes."], session), now, 1000)!;
    expect(next.notBefore.getTime() - now.getTime()).toBe(5 * 60_000);
    expect(next.job.resume_session).toBe(session);
    expect(next.job.task).toBe('do it'); // the job keeps what was submitted
    expect(next.job.attempts).toBe(0);
    expect(next.job.not_before).toBe(next.notBefore.toISOString());
  });
  it('retries a transient failure with doubling backoff until max_attempts', () => {
    const first = nextAttempt(spec, summary(['stream closed before response.completed']), now, 1000)!;
    expect(first.job.attempts).toBe(1);
    expect(first.job.resume_session).toBeUndefined();
    expect(first.notBefore.getTime() - now.getTime()).toBe(1000);
    const second = nextAttempt(first.job, summary(['stream closed before response.completed']), now, 1000)!;
    expect(second.notBefore.getTime() - now.getTime()).toBe(2000);
    expect(nextAttempt(second.job, summary(['stream closed before response.completed']), now, 1000)).toBeNull();
    expect(nextAttempt({ ...spec, max_attempts: 1 }, summary(['high demand']), now, 1000)).toBeNull();
  });
  it('never retries a permanent failure, a success, a timeout or a cancel', () => {
    expect(nextAttempt(spec, summary(['401 Unauthorized']), now, 1000)).toBeNull();
    for (const status of ['succeeded', 'timed_out', 'cancelled']) {
      expect(nextAttempt(spec, { ...summary(['high demand']), status } as RunSummary, now, 1000)).toBeNull();
    }
  });
  it('records why: the kind of failure and the decisive (last) error', () => {
    const next = nextAttempt(spec, summary(['first thing', 'stream closed before response.completed']), now, 1000)!;
    expect(next.job.reason).toBe('transient failure: stream closed before response.completed');
    const limit = nextAttempt(spec, summary(["You've hit your usage limit. Try again in 5 minutes."]), now, 1000)!;
    expect(limit.job.reason).toBe("usage limit: You've hit your usage limit. Try again in 5 minutes.");
  });
  it('property: a reason is one line within the schema bound, and a finished record drops it (FinishedJob stays valid)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 1000 }), (why) => {
        const queued = queuedAgain(spec, 1, null, why);
        expect(QueuedJob.safeParse(queued).success).toBe(true);
        expect(queued.reason!.length).toBeLessThanOrEqual(MAX_REASON_CHARS);
        expect(queued.reason).not.toMatch(/\n/);
        expect(FinishedJob.safeParse(recordWithoutRun(queued, { status: 'failed', error: 'x' })).success).toBe(true);
      }),
    );
  });
  it('caps the backoff at 10 minutes', () => {
    expect(retryDelayMs(20, 30_000)).toBe(600_000);
  });
});
