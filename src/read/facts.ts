// What one job is and what it came to, in one flat record: what status, result and wait print.
import { realpath } from 'node:fs/promises';
import { isLocked, resourceLockName } from '../spool/lock.js';
import { currentActivity } from './event-render.js';
import { readTail } from '../util/file-tail.js';
import { JobId, RejectionError, SessionId, type RunStatus, type StoredJob } from '../spool/schema.js';
import { runMetaOf, type JobView } from '../spool/lookup.js';
import { findJob } from '../spool/moves.js';
import { runFiles } from '../spool/run-files.js';
import { LIVE_STATES, type JobState, type SpoolLayout } from '../spool/layout.js';
import { readJson } from '../spool/json-file.js';

/** One job's facts. Fields that do not apply to its state are null. */
export interface JobFacts {
  id: string;
  state: JobState;
  /**
   * How it ended: the run's status, or `rejected`; `unknown` for a done/failed file that holds no result the
   * worker wrote (not a regular file, not JSON: planted or damaged), never taken for a success; null while
   * queued or running.
   */
  status: FinishedStatus | null;
  repo: string | null;
  run_id: string | null;
  session_id: string | null;
  exit_code: number | null;
  /** Queued: seconds since it was first submitted (deferred: `queued_at`, kept through requeues); rejected: since it was written. */
  age_seconds: number | null;
  /** Active: seconds since its run started; done, failed: how long its run took. */
  elapsed_seconds: number | null;
  final_message: string | null;
  /** The decisive error of a run that did not succeed, or why the job was rejected. */
  error: string | null;
  /**
   * Why it is where it is. Rejected: the kind of problem (bad_name, invalid_json, …); deferred: why the
   * worker queued it again (retry and its error, recovery, usage limit); queued: the job it waits for.
   */
  reason: string | null;
  /** Deferred: when it may run again (ISO 8601), if it must wait. */
  not_before: string | null;
  /** Active: what Codex is doing now (the command it runs, its last message, `waiting for network`). */
  activity: string | null;
  /** When the job file got its current contents (its mtime), ISO 8601. */
  since: string;
}

/** A job known only from a directory listing (its file is not opened: not a regular file, or too big). */
export function listedView(id: string, state: JobState, path: string, mtimeMs: number): JobView {
  return { id, state, path, record: null, runId: null, result: null, mtimeMs };
}

/** The facts of a found job; reads its run's meta.json (active) or its error file (rejected) as needed. */
export async function factsOf(layout: SpoolLayout, job: JobView, now = Date.now()): Promise<JobFacts> {
  const record = job.record ?? {};
  const facts: JobFacts = {
    id: job.id,
    state: job.state,
    status: null,
    repo: record.repo ?? null,
    run_id: job.runId,
    session_id: null,
    exit_code: null,
    age_seconds: null,
    elapsed_seconds: null,
    final_message: null,
    error: null,
    reason: null,
    not_before: null,
    activity: null,
    since: new Date(job.mtimeMs).toISOString(),
  };
  const age = round1((now - job.mtimeMs) / 1000);
  switch (job.state) {
    case 'inbox':
    case 'deferred': {
      facts.age_seconds = round1((now - (record.queued_at ?? job.mtimeMs)) / 1000);
      facts.not_before = record.not_before ?? null;
      // Queued again by the worker (interrupted, retried, deferred): the session its next run continues.
      const resumes = SessionId.safeParse(job.record?.resume_session); // the file is read loosely: checked here
      if (job.state === 'deferred' && resumes.success) facts.session_id = resumes.data;
      // Not due yet: its time is what it waits for, whoever holds its repo now (its own run, just deferred).
      const due = !record.not_before || !(Date.parse(record.not_before) > now);
      facts.reason = (due ? await waitingFor(layout, record) : null) ?? record.reason ?? null;
      break;
    }
    case 'active': {
      const meta = await runMetaOf(layout, job);
      facts.session_id = meta?.session_id ?? null;
      facts.elapsed_seconds = meta ? round1((now - Date.parse(meta.started_at)) / 1000) : null;
      facts.activity = job.runId ? await activityOf(layout, job.runId) : null;
      break;
    }
    case 'done':
    case 'failed':
      Object.assign(facts, resultFacts(job));
      break;
    case 'rejected': {
      const error = await rejectionOf(layout, job.id);
      facts.status = 'rejected';
      facts.age_seconds = age;
      facts.reason = error?.reason ?? null;
      facts.error = error?.message ?? null;
      break;
    }
  }
  return facts;
}

/**
 * What a queued job waits for, by the worker's own rules: a resume of an earlier job of this spool waits
 * while that job is queued or running; a job (not in a worktree of its own) while another runs in its repo.
 */
async function waitingFor(layout: SpoolLayout, record: StoredJob): Promise<string | null> {
  const { resume, repo } = record;
  if (resume !== undefined && JobId.safeParse(resume).success && (await findJob(layout, resume, LIVE_STATES))) {
    return `waiting for job ${resume}`;
  }
  if (repo === undefined || record.worktree === true) return null;
  const real = await realpath(repo).catch(() => null); // one job's unresolvable repo must not fail a listing: not busy
  const busy = real !== null && (await isLocked(layout.dir('active'), resourceLockName('repo', real)));
  return busy ? 'waiting for its repo' : null;
}

/** How much of a running job's events.jsonl is read to tell what Codex is doing. */
const ACTIVITY_TAIL_BYTES = 64 * 1024;

/** What the run's Codex is doing, from the end of its events (null before its first event). */
async function activityOf(layout: SpoolLayout, runId: string): Promise<string | null> {
  return currentActivity((await readTail(runFiles(layout.runs, runId).events, ACTIVITY_TAIL_BYTES)).split('\n'));
}

/** The rejection error written beside spool/rejected/<id>.json, or null. */
async function rejectionOf(layout: SpoolLayout, id: string): Promise<RejectionError | null> {
  return readJson(layout.rejection(id), RejectionError);
}

/** How a finished job ended (see JobFacts.status). */
export type FinishedStatus = RunStatus | 'rejected' | 'unknown';

/** How a finished job ended: its result's status; rejected; unknown without a result (see JobFacts.status). */
export function finishedStatus(job: JobView): FinishedStatus {
  if (job.state === 'rejected') return 'rejected';
  return job.record?.result?.status ?? 'unknown';
}

/**
 * The result fields of a done/failed job, as read back field by field (StoredResult) so that a result
 * JobResult does not (yet) accept, e.g. a job cancelled before it ran (no run, no summary), still shows.
 */
function resultFacts(job: JobView): Partial<JobFacts> {
  const r = job.record?.result ?? {};
  const session = SessionId.safeParse(r.session_id);
  const status = finishedStatus(job);
  return {
    status,
    run_id: r.run_id ?? null,
    session_id: session.success ? session.data : null, // it goes into a command line
    exit_code: r.exit_code ?? null,
    elapsed_seconds: r.elapsed_seconds ?? null,
    final_message: r.final_message ?? null,
    error: r.error ?? (status === 'unknown' ? `spool/${job.state}/${job.id}.json holds no result the worker wrote` : null),
  };
}

const round1 = (n: number) => Math.round(Math.max(0, n) * 10) / 10;
