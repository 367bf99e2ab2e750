// The job states, one directory each under spool/ (see layout.ts): the directory a job file is in *is* its state. Pure.

/** Job states, one directory each under spool/. `deferred` holds jobs waiting out a Codex usage limit. */
export const JOB_STATES = ['inbox', 'deferred', 'active', 'done', 'failed', 'rejected'] as const;
export type JobState = (typeof JOB_STATES)[number];
/** The states a job is finished in. */
export const FINISHED_STATES = ['done', 'failed', 'rejected'] as const satisfies readonly JobState[];
export type FinishedState = (typeof FINISHED_STATES)[number];
/** The states of a job that has not ended: queued or running. */
export const LIVE_STATES = ['inbox', 'deferred', 'active'] as const satisfies readonly JobState[];

/** True for done, failed and rejected. */
export function isFinished(state: JobState): state is FinishedState {
  return (FINISHED_STATES as readonly JobState[]).includes(state);
}
