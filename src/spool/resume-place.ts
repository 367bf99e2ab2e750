// Where a follow-up runs: the place (repo, and worktree when it had one) of the finished job whose
// session it continues. A `resume` names that job by its id, or by a session id one of its runs recorded.
import { lstat, readdir } from 'node:fs/promises';
import { readSmallFile } from './atomic-file.js';
import type { Worktree } from './layout.js';
import { lookupJob, runMetaOf, type JobView } from './lookup.js';
import { MAX_JOB_BYTES, SessionId } from './schema.js';
import '../util/zod.js';
import * as z from 'zod/mini';
import { parseJsonOrNull } from '../util/json-text.js';

/** The one field of a queued job that says which session its next run continues. */
const QueuedSession = z.object({ resume_session: z.optional(z.string()) });
import { isJobFileName, jobIdOf, recordedWorktree, type SpoolLayout } from './layout.js';
import { ifMissing } from '../util/errors.js';

/** A finished job's place: the repo it was submitted for and the worktree it ran in (if any). */
export interface Place {
  job_id: string;
  repo: string;
  worktree: Worktree | null;
}

/** The place of a finished job as found, or null (no repo or result recorded). Its worktree is this spool's (recordedWorktree). */
function placeOf(layout: SpoolLayout, job: JobView): Place | null {
  const repo = job.record?.repo;
  if (repo === undefined || !job.result) return null;
  const recorded = job.result.worktree?.path;
  return { job_id: job.id, repo, worktree: recorded === undefined ? null : recordedWorktree(layout, recorded) };
}

/**
 * The finished job (done/ or failed/) that `resume` names: the job of that id, or for a session id the
 * job filed last with that session (where the session last ran); null if none.
 */
export async function resumedJob(layout: SpoolLayout, resume: string): Promise<JobView | null> {
  if (!SessionId.safeParse(resume).success) return lookupJob(layout, resume, ['done', 'failed']);
  const session = resume.toLowerCase();
  let best: JobView | null = null;
  for (const state of ['done', 'failed'] as const) {
    for (const name of await readdir(layout.dir(state)).catch(ifMissing([]))) {
      if (!isJobFileName(name)) continue;
      // lstat: a link is no record (lookupJob reads none through it), and a looping one must not fail every follow-up.
      const st = await lstat(layout.job(state, jobIdOf(name))).catch(ifMissing(null));
      if (!st?.isFile() || (best && st.mtimeMs <= best.mtimeMs)) continue;
      const job = await lookupJob(layout, jobIdOf(name), [state]);
      if (job?.result?.session_id?.toLowerCase() === session) best = job;
    }
  }
  return best;
}

/** The active job whose current run is in session `session` (a follow-up submitted while it runs), or null. */
export async function activeJobOfSession(layout: SpoolLayout, session: string): Promise<JobView | null> {
  for (const name of await readdir(layout.dir('active')).catch(ifMissing([]))) {
    if (!isJobFileName(name)) continue;
    const job = await lookupJob(layout, jobIdOf(name), ['active']);
    const meta = job && (await runMetaOf(layout, job));
    if ((meta?.session_id ?? meta?.resumed_from)?.toLowerCase() === session.toLowerCase()) return job;
  }
  return null;
}

/**
 * A job other than `id` queued again in deferred/ to continue session `session` (a retry, a recovered or
 * transient run), or null: a follow-up of that session waits for it, as one by its job id would.
 */
export async function deferredJobOfSession(layout: SpoolLayout, id: string, session: string): Promise<string | null> {
  for (const name of await readdir(layout.dir('deferred')).catch(ifMissing([]))) {
    if (!isJobFileName(name) || jobIdOf(name) === id) continue;
    const text = await readSmallFile(layout.job('deferred', jobIdOf(name)), MAX_JOB_BYTES);
    const queued = QueuedSession.safeParse(text === null ? null : parseJsonOrNull(text));
    if (queued.success && queued.data.resume_session?.toLowerCase() === session.toLowerCase()) return jobIdOf(name);
  }
  return null;
}

/** The place of the job `resume` names (see resumedJob), or null. */
export async function resumedPlace(layout: SpoolLayout, resume: string): Promise<Place | null> {
  const job = await resumedJob(layout, resume);
  return job ? placeOf(layout, job) : null;
}
