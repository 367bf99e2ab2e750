// The record a finished job is filed as: the job as submitted, the worker's facts, and its result. Pure.
import { decisiveError } from '../codex/summary.js';
import type { FinishedJob, JobResult, JobSpec, QueuedJob, RunStatus, RunSummary } from '../spool/schema.js';

/** What of a queued or active job a finished record keeps: not its schedule or its (ended) run. */
function jobFields<T extends Partial<QueuedJob> & { run_id?: string }>(job: T) {
  const { not_before: _n, run_id: _r, reason: _why, ...kept } = job;
  return kept;
}

/** A job whose Codex run ended (not interrupted), from the run's summary. */
export function recordFromSummary(
  job: QueuedJob,
  summary: RunSummary & { status: RunStatus },
  worktree?: JobResult['worktree'],
): FinishedJob {
  return {
    ...jobFields(job),
    result: {
      run_id: summary.run_id,
      session_id: summary.session_id,
      status: summary.status,
      exit_code: summary.exit_code,
      elapsed_seconds: summary.elapsed_seconds,
      final_message: summary.final_message,
      error: summary.status === 'succeeded' ? null : decisiveError(summary.errors),
      summary: summary.files.summary,
      ...(worktree ? { worktree } : {}),
    },
  };
}

/** A job that ended without a Codex run of its own ending: cancelled while queued, given up on, unrunnable. */
export function recordWithoutRun(
  job: Partial<JobSpec> & Partial<QueuedJob>,
  ended: {
    status: Exclude<RunStatus, 'succeeded'>;
    error: string;
    runId?: string | null;
    sessionId?: string | null;
    summary?: string | null;
  },
) {
  return {
    ...jobFields(job),
    result: {
      run_id: ended.runId ?? null,
      session_id: ended.sessionId ?? null,
      status: ended.status,
      exit_code: null,
      elapsed_seconds: 0,
      final_message: null,
      error: ended.error,
      summary: ended.summary ?? null,
    },
  };
}

/** A summary of a run that ended by itself or was stopped for the job's sake (not interrupted). */
export function isEnded(summary: RunSummary): summary is RunSummary & { status: RunStatus } {
  return summary.status !== 'interrupted';
}
