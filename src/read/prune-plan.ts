// What `prune` removes: finished jobs past an age that no live job resumes, the run directories no live or
// kept job needs, and cancel requests whose run is no longer active. Pure.
import { requestApplies } from '../spool/cancel-request.js';
import { SessionId } from '../spool/schema.js';
import type { JobState } from '../spool/layout.js';

/** The UTC time a run id (`20261125-071500-…`) was made at, in ms; null if it is not such an id. */
function runIdTime(runId: string): number | null {
  const m = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})-/.exec(runId);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : null;
}

/** A file in done/, failed/ or rejected/: a job, a rejection's error file, a retried job's old record. */
export interface FinishedFile {
  path: string;
  state: JobState;
  /** Its file name, for display. */
  name: string;
  /** The job id when it is a job file (not an error file or a dotfile), else null. */
  id: string | null;
  mtimeMs: number;
  /** The runs it names (`result.run_id`, `run_id`). */
  runIds: string[];
  /** The Codex session its run recorded (`result.session_id`), lower case; null if none. */
  sessionId: string | null;
  /** The worktree it ran in (`result.worktree.path`): its own, or the one of the job it followed up. */
  worktree: string | null;
  /** A worktree job's repo (`"worktree": true`): where its branch is, should its worktree be gone. */
  worktreeRepo: string | null;
}

/** A queued or running job as read from inbox/, deferred/ or active/. */
export interface LiveJob {
  id: string;
  state: JobState;
  /** Its run (active jobs). */
  runId: string | null;
  /** Its earlier runs (`runs`: a retried or recovered job's), which its `result` still lists. */
  earlierRuns: string[];
  /** Its `resume` field: a job id or a session id. */
  resume: string | null;
}

/** spool/active/<id>.cancel and the run it names (null: none, e.g. a request of an older version). */
export interface CancelRequestFile {
  path: string;
  id: string;
  requested: string | null;
}

export interface PruneInput {
  cutoffMs: number;
  finished: FinishedFile[];
  /** Run directory names under runs/. */
  runs: string[];
  /** Every live job seen (a job seen in two listings may appear twice: what either needs is kept). */
  live: LiveJob[];
  cancelRequests: CancelRequestFile[];
}

export interface PrunePlan {
  jobs: FinishedFile[];
  runs: string[];
  cancelRequests: CancelRequestFile[];
  /** Old finished jobs kept because a live job resumes them. */
  keptForResume: string[];
  /** Jobs going whose worktree may go with them: no job that stays ran in it (a follow-up inherits it). */
  worktreeIds: string[];
}

/**
 * Finished files older than the cutoff, except jobs a live job resumes: by job id (the worker reads the
 * target's session from its file), or by session id (the latest job of that session is where the follow-up
 * runs, its worktree included: spool/resume-place.ts). Every live job counts, queued ones included, so a chain
 * c → b → a of queued follow-ups keeps a through b. Runs older than the cutoff go unless a live job runs in them or a
 * finished job that stays names them. A job's worktree goes with it unless a job that stays ran in it. A cancel request goes once no active job has the run it names.
 */
export function prunePlan({ cutoffMs, finished, runs, live, cancelRequests }: PruneInput): PrunePlan {
  const resumed = new Set(
    live.flatMap((j) => (j.resume === null ? [] : [SessionId.safeParse(j.resume).success ? j.resume.toLowerCase() : j.resume])),
  );
  const placeOfSession = new Map<string, FinishedFile>();
  for (const f of finished) {
    if (f.id === null || f.state === 'rejected' || f.sessionId === null || !resumed.has(f.sessionId)) continue;
    if ((placeOfSession.get(f.sessionId)?.mtimeMs ?? -Infinity) < f.mtimeMs) placeOfSession.set(f.sessionId, f);
  }
  const isResumed = (f: FinishedFile) =>
    f.id !== null && f.state !== 'rejected' && (resumed.has(f.id) || (f.sessionId !== null && placeOfSession.get(f.sessionId) === f));
  const old = finished.filter((f) => f.mtimeMs < cutoffMs);
  const jobs = old.filter((f) => !isResumed(f));
  const going = new Set(jobs);
  const staying = finished.filter((f) => !going.has(f));
  const worktreesInUse = new Set(staying.flatMap((f) => (f.worktree === null ? [] : [f.worktree])));
  const needed = new Set([
    ...live.flatMap((j) => (j.runId === null ? j.earlierRuns : [j.runId, ...j.earlierRuns])),
    ...staying.flatMap((f) => f.runIds),
  ]);
  const activeWith = (c: CancelRequestFile) =>
    live.some((j) => j.state === 'active' && j.id === c.id && (c.requested === null || requestApplies(c.requested, j.runId)));
  return {
    jobs,
    runs: runs.filter((r) => {
      const t = runIdTime(r);
      return t !== null && t < cutoffMs && !needed.has(r);
    }),
    cancelRequests: cancelRequests.filter((c) => !activeWith(c)),
    keptForResume: [...new Set(old.filter(isResumed).map((f) => f.id!))],
    worktreeIds: jobs.flatMap((f) =>
      f.id === null || f.state === 'rejected' || (f.worktree !== null && worktreesInUse.has(f.worktree)) ? [] : [f.id],
    ),
  };
}
