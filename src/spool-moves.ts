// The transitions of a job between spool directories, one function each. Every move is a rename within
// one file system (atomic); a job file is in exactly one directory at any time, except for the instant
// between writing a finished job and removing its active copy, which recovery resolves.
import type { Stats } from 'node:fs';
import { access, lstat, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createFileAtomic, writeFileAtomic, writeJsonAtomic } from './atomic-file.js';
import { fitName, tryLock } from './claim-lock.js';
import { MAX_JOB_BYTES, type ActiveJob, type JobSpec, type RejectionError } from './job-schema.js';
import { JOB_STATES, isJobFileName, jobIdOf, type JobState, type SpoolLayout } from './spool-layout.js';

/** A job id that is already used somewhere in the spool. */
export class DuplicateIdError extends Error {
  readonly code = 'duplicate_id';
  constructor(
    readonly id: string,
    readonly state: JobState,
  ) {
    super(`job id "${id}" is already used (in spool/${state})`);
  }
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** The state holding job `id`, or null if no directory has it. */
export async function findJob(layout: SpoolLayout, id: string, states: readonly JobState[] = JOB_STATES) {
  for (const state of states) if (await exists(layout.job(state, id))) return state;
  return null;
}

/**
 * submit: publishes a new job. Pre: `id` is unused in every state. Post: inbox/<id>.json exists,
 * complete (written aside, then hard-linked into place, which never replaces an existing file).
 */
export async function submitJob(layout: SpoolLayout, id: string, spec: JobSpec): Promise<string> {
  const used = await findJob(layout, id);
  if (used) throw new DuplicateIdError(id, used);
  const path = layout.job('inbox', id);
  try {
    await createFileAtomic(path, `${JSON.stringify(spec)}\n`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new DuplicateIdError(id, 'inbox');
    throw err;
  }
  return path;
}

export type JobFileContent =
  | { kind: 'bytes'; bytes: Buffer }
  | { kind: 'unreadable'; why: string }
  /** Larger than the reader's limit: not opened. */
  | { kind: 'too_large'; size: number; limit: number };

/** Reads a job file only if it is a regular file of at most `maxBytes`: never follows a symlink, never opens a FIFO. */
async function readJobFile(path: string, maxBytes: number): Promise<JobFileContent> {
  const st = await lstat(path);
  if (!st.isFile()) return { kind: 'unreadable', why: `not a regular file (${fileKind(st)})` };
  if (st.size > maxBytes) return { kind: 'too_large', size: st.size, limit: maxBytes };
  return { kind: 'bytes', bytes: await readFile(path) };
}

function fileKind(st: Stats): string {
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return 'FIFO';
  if (st.isSocket()) return 'socket';
  return 'device';
}

/** A job this process holds: its file is in active/ and its lock is ours until `release`. */
export interface Claim {
  name: string;
  id: string;
  /** active/<name> */
  path: string;
  /** The job file's bytes as claimed, or why they were not read (not a regular file, too large). */
  content: JobFileContent;
  /** Aborted if the lock is lost (e.g. the event loop stalled past the stale time). */
  lost: AbortSignal;
  release(): Promise<void>;
}

/**
 * claim: inbox/<name> → active/<name> under the job's lock. Returns null, quietly, when another
 * worker holds the lock or has already moved the file (ENOENT means someone else won). The file is
 * read only if it has at most `maxBytes` (the worker's policy.max_job_bytes).
 */
export function claimJob(
  layout: SpoolLayout,
  name: string,
  from: 'inbox' | 'deferred' = 'inbox',
  maxBytes = MAX_JOB_BYTES,
): Promise<Claim | null> {
  return holdJob(layout, name, from, maxBytes);
}

/**
 * take over: the lock of an orphaned active job (its owner died and the lock went stale, or it was
 * released without the file moving on). Returns null if a live process still holds it.
 */
export function takeOverJob(layout: SpoolLayout, name: string): Promise<Claim | null> {
  return holdJob(layout, name, null, MAX_JOB_BYTES);
}

async function holdJob(layout: SpoolLayout, name: string, from: JobState | null, maxBytes: number): Promise<Claim | null> {
  const lost = new AbortController();
  const release = await tryLock(layout.dir('active'), name, (err) => lost.abort(err));
  if (!release) return null;
  const path = join(layout.dir('active'), name);
  try {
    if (from) await rename(join(layout.dir(from), name), path);
    return { name, id: jobIdOf(name), path, content: await readJobFile(path, maxBytes), lost: lost.signal, release };
  } catch (err) {
    await release();
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * finish: active → done|failed as `record` (the job plus its result). Pre: the caller holds the claim.
 * Post: the finished file is complete before the active copy goes; the lock is released.
 */
export async function finishJob(
  layout: SpoolLayout,
  claim: Claim,
  state: 'done' | 'failed',
  record: object,
): Promise<string> {
  const path = layout.job(state, claim.id);
  await writeJsonAtomic(path, record);
  // A retried job that now succeeds leaves no stale failure behind.
  if (state === 'done') await unlink(layout.job('failed', claim.id)).catch(() => undefined);
  await unlink(claim.path).catch(() => undefined);
  await unlink(layout.cancelRequest(claim.id)).catch(() => undefined);
  await claim.release();
  return path;
}

/**
 * reject: active → rejected/<name> with its bytes unchanged and `<stem>.error.json` beside it (written
 * first, so a rejected job never lacks its reason). Names are made unique: nothing is ever replaced.
 */
export async function rejectJob(layout: SpoolLayout, claim: Claim, error: RejectionError): Promise<string> {
  const dir = layout.dir('rejected');
  const base = fitName(claim.id);
  let stem = base;
  for (let n = 1; (await exists(join(dir, `${stem}.json`))) || (await exists(join(dir, `${stem}.error.json`))); n++) {
    stem = `${base}~${n}`;
  }
  await writeJsonAtomic(join(dir, `${stem}.error.json`), error);
  const path = join(dir, `${stem}.json`);
  await rename(claim.path, path);
  await claim.release();
  return path;
}

/**
 * requeue: active → inbox (recovery, waiting on a dependency) or deferred (to run again after
 * `not_before`), unchanged or with new contents. Post: the job is claimable again; lock released.
 */
export async function requeueJob(
  layout: SpoolLayout,
  claim: Claim,
  spec?: JobSpec,
  to: 'inbox' | 'deferred' = 'inbox',
): Promise<void> {
  if (spec) await writeFileAtomic(claim.path, `${JSON.stringify(spec)}\n`);
  await rename(claim.path, join(layout.dir(to), claim.name));
  await claim.release();
}

/** undefer: deferred jobs whose `not_before` has passed go back to the inbox. Returns how many. */
export async function releaseDueJobs(layout: SpoolLayout, now: Date): Promise<number> {
  let released = 0;
  for (const name of await readdir(layout.dir('deferred')).catch(() => [])) {
    if (!isJobFileName(name)) continue;
    const path = join(layout.dir('deferred'), name);
    const notBefore = await readFile(path, 'utf8').then(
      (text) => Date.parse((JSON.parse(text) as { not_before?: string }).not_before ?? ''),
      () => Number.NaN,
    );
    if (!(notBefore > now.getTime())) {
      // Another worker may release it first: ENOENT then means it is already back in the inbox.
      released += await rename(path, join(layout.dir('inbox'), name)).then(() => 1, () => 0);
    }
  }
  return released;
}

/** Marks a claimed job as running `runId`, so that recovery can find its run (and session). */
export function recordRun(claim: Claim, spec: JobSpec, runId: string): Promise<void> {
  const active: ActiveJob = { ...spec, run_id: runId };
  return writeJsonAtomic(claim.path, active);
}
