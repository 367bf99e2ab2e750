// The record a finished job is filed as: the job as submitted plus its result. Pure.
import type { FinishedJob, JobResult, JobSpec, RunStatus, RunSummary } from './job-schema.js';

/** A job whose Codex run ended, from the run's summary. */
export function recordFromSummary(spec: JobSpec, summary: RunSummary, worktree?: JobResult['worktree']): FinishedJob {
  return {
    ...spec,
    result: {
      run_id: summary.run_id,
      session_id: summary.session_id,
      status: summary.status,
      exit_code: summary.exit_code,
      elapsed_seconds: summary.elapsed_seconds,
      final_message: summary.final_message,
      error: summary.status === 'succeeded' ? null : (summary.errors[0] ?? null),
      summary: summary.files.summary,
      ...(worktree ? { worktree } : {}),
    },
  };
}

/** A job that ended without a Codex run of its own ending: cancelled while queued, given up on, unrunnable. */
export function recordWithoutRun<T extends Partial<JobSpec>>(
  spec: T,
  ended: { status: Exclude<RunStatus, 'succeeded'>; error: string; runId?: string | null; sessionId?: string | null; summary?: string | null },
) {
  return {
    ...spec,
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
