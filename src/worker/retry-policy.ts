// What a failed run's errors say about trying again. Pure.
import { collapsed } from '../read/display.js';
import { MAX_REASON_CHARS, type QueuedJob, type RunSummary } from '../spool/schema.js';
import { decisiveError } from '../codex/summary.js';

/** How many runs a job gets (transient failures and interruptions) unless it sets max_attempts. */
export const MAX_ATTEMPTS = 3;

/**
 * The job queued again after `attempts` runs, for `reason` (one line, cut to fit): it continues `session`
 * when it has one, else starts over.
 */
export function queuedAgain(job: QueuedJob, attempts: number, session: string | null, reason: string, notBefore?: Date): QueuedJob {
  const { not_before: _old, retry_of: _retry, ...rest } = job; // a retry's note is for its first run only
  return {
    ...rest,
    attempts,
    reason: collapsed(reason, MAX_REASON_CHARS),
    ...(session ? { resume_session: session } : {}),
    ...(notBefore ? { not_before: notBefore.toISOString() } : {}),
  };
}

type FailureKind =
  /** The account's usage limit: wait until it resets (the message says when, roughly). */
  | { kind: 'usage_limit'; resetAt: Date }
  /** A passing fault of the model service or the network: retry with backoff. */
  | { kind: 'transient' }
  /** Anything else (bad arguments, auth, a failed task): retrying would fail the same way. */
  | { kind: 'permanent' };

const TRANSIENT =
  /high demand|stream disconnected|stream closed before|connection failed|error sending request|idle timeout|waiting for (the )?network|too many requests|\b429\b|\b50[0-4]\b|internal server error|service unavailable|overloaded/i;
const NEVER_RETRY = /unauthori[sz]ed|\b401\b|\b403\b|not logged in|log ?in again|invalid api key|no rollout found|trusted directory/i;
/** When the usage limit reason gives no time, try again after this long. */
const DEFAULT_USAGE_WAIT_MS = 30 * 60_000;

export function classifyFailure(errors: string[], now: Date): FailureKind {
  const text = errors.join('\n');
  if (/usage limit/i.test(text)) return { kind: 'usage_limit', resetAt: usageLimitResetAt(text, now) };
  if (NEVER_RETRY.test(text)) return { kind: 'permanent' };
  return TRANSIENT.test(text) ? { kind: 'transient' } : { kind: 'permanent' };
}

/**
 * When a Codex usage limit resets, from its message: "try again in 3 days 6 hours 57 minutes",
 * "try again at 3:28 PM" (local time, today or tomorrow), "try again at Aug 8th, 2026 12:30 PM".
 * Unknown forms wait DEFAULT_USAGE_WAIT_MS.
 */
export function usageLimitResetAt(text: string, now: Date): Date {
  const inMatch = /try again in ((?:\d+\s*(?:days?|hours?|hrs?|minutes?|mins?|seconds?|secs?)[\s,and]*)+)/i.exec(text);
  if (inMatch) {
    let ms = 0;
    for (const [, n, unit] of inMatch[1]!.matchAll(/(\d+)\s*(d|h|m|s)/gi)) {
      ms += Number(n) * { d: 86400_000, h: 3600_000, m: 60_000, s: 1000 }[unit!.toLowerCase() as 'd' | 'h' | 'm' | 's'];
    }
    return new Date(now.getTime() + ms);
  }
  const atMatch = /try again at ([^.\n]+?)\.?(?:\n|$)/i.exec(text);
  if (atMatch) {
    const when = atMatch[1]!.replace(/(\d)(st|nd|rd|th)\b/g, '$1').trim();
    const clock = /^(\d{1,2}):(\d{2})\s*(AM|PM)?$/i.exec(when);
    if (clock) {
      let hours = Number(clock[1]);
      const half = clock[3]?.toUpperCase();
      if (half) hours = (hours % 12) + (half === 'PM' ? 12 : 0);
      const at = new Date(now);
      at.setHours(hours, Number(clock[2]), 0, 0);
      if (at <= now) at.setDate(at.getDate() + 1);
      return at;
    }
    const parsed = Date.parse(when.replace(/,/g, ''));
    if (!Number.isNaN(parsed) && parsed > now.getTime()) return new Date(parsed);
  }
  return new Date(now.getTime() + DEFAULT_USAGE_WAIT_MS);
}

/** Backoff before transient retry `attempt` (1-based): base, 2 × base, 4 × base … at most 10 minutes. */
export function retryDelayMs(attempt: number, baseMs: number): number {
  return Math.min(baseMs * 2 ** Math.max(0, attempt - 1), 600_000);
}

/** A failed run to be tried again later: when, why, and as what job. */
interface NextAttempt {
  notBefore: Date;
  why: string;
  job: QueuedJob;
}

/**
 * Whether a failed run goes to deferred/ instead of failed/: a usage limit waits for its reset (no
 * attempt counted: the job did nothing wrong); a transient fault retries with backoff while attempts
 * remain. Either way a run that has a session continues it rather than starting over.
 */
export function nextAttempt(job: QueuedJob, summary: RunSummary, now: Date, retryBaseMs: number): NextAttempt | null {
  if (summary.status !== 'failed') return null;
  const failure = classifyFailure(summary.errors, now);
  if (failure.kind === 'permanent') return null;
  const attempts = job.attempts + (failure.kind === 'transient' ? 1 : 0);
  if (failure.kind === 'transient' && attempts >= (job.max_attempts ?? MAX_ATTEMPTS)) return null;
  const notBefore = failure.kind === 'usage_limit' ? failure.resetAt : new Date(now.getTime() + retryDelayMs(attempts, retryBaseMs));
  const why = failure.kind === 'usage_limit' ? 'usage limit' : 'transient failure';
  const reason = `${why}: ${decisiveError(summary.errors) ?? ''}`;
  return { notBefore, why, job: queuedAgain(job, attempts, summary.session_id, reason, notBefore) };
}
