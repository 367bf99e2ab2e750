// The transitions of a job between spool directories, one function each. Every move is a rename (or a
// link that never replaces) within one file system, made durable by syncing the directories; a job file
// is in exactly one directory at any time, except for the instant between writing a finished job and
// removing its active copy (or between the link and the unlink of a move), which recovery resolves.
import type { Stats } from 'node:fs';
import { createHash } from 'node:crypto';
import { lstat, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createFileAtomic,
  linkNoReplace,
  readSmallFile,
  readSmallFileBytes,
  renameDurable,
  syncDir,
  syncDirsOf,
  writeJsonAtomic,
  writeJsonGroupsAtomic,
  type JsonFiles,
} from './atomic-file.js';
import { fileLogged } from './finished-log.js';
import { openRegular } from '../util/regular-file.js';
import { tryLock, type HeldLock } from './lock.js';
import { JobId, MAX_JOB_BYTES, jobFileText, type ActiveJob, type JobSpec, type QueuedJob, type RejectionError } from './schema.js';
import { JOB_STATES, isFinished, jobIdOf, type JobState, type SpoolLayout } from './layout.js';
import { CliError, EXIT, ifMissing } from '../util/errors.js';
import { parseJsonOrNull } from '../util/json-text.js';
import { objectOr } from '../util/json-value.js';

/** A job id that is already used somewhere in the spool. */
/** The one message for an id already taken (submit, batch and the worker's rejection alike). */
export const duplicateIdMessage = (id: string, state: JobState) => `job id "${id}" is already used (in spool/${state})`;

export class DuplicateIdError extends CliError {
  constructor(
    readonly id: string,
    readonly state: JobState,
  ) {
    super(duplicateIdMessage(id, state), EXIT.usage, { code: 'duplicate_id' });
  }
}

/** A name is taken by whatever is there, a dangling or looping symlink too; an error other than "not there" surfaces. */
const exists = (path: string) => lstat(path).then(() => true, ifMissing(false));

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
    await createFileAtomic(path, jobFileText(spec));
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
  try {
    // Read as it is now, never waiting: whoever can write the spool may have swapped it since the lstat. Gone:
    // the open's ENOENT (taken meanwhile) is thrown, the file server's word; over a network file system an
    // lstat may still show it from the client's cache (a job another host has taken, "rejected" here).
    const opened = await openRegular(path, 'throw');
    if (opened) {
      try {
        if (opened.size <= maxBytes) return { kind: 'bytes', bytes: await opened.file.readFile() };
      } finally {
        await opened.file.close();
      }
    }
    return { kind: 'unreadable', why: `replaced while it was read (no longer a regular file of at most ${maxBytes} bytes)` };
  } catch (err) {
    // A file the worker may not read (mode 000, another user's) is rejected as such, not retried for ever.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') return { kind: 'unreadable', why: `not readable by the worker (${code})` };
    throw err;
  }
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
  /** Where the job file is now: active/<name>, or still in the inbox when `duplicateOf` says why it was not moved. */
  path: string;
  /** The state it was claimed from (null: taken over in active/). */
  from: 'inbox' | 'deferred' | null;
  /** The job file's ctime when claimed: a fresh inbox file's place in submission order (see Worker's Peek). */
  queuedAt: number;
  /** A fresh inbox job whose id another job already holds (that state): to be rejected, never run. */
  duplicateOf: JobState | null;
  /** The job file's bytes as claimed, or why they were not read (not a regular file, too large). */
  content: JobFileContent;
  /** Aborted if the lock is lost (e.g. the event loop stalled past the stale time). */
  lost: AbortSignal;
  /** Whether the claim is surely still ours (see HeldLock.held): each transition below asks it first. */
  held(): Promise<boolean>;
  release(): Promise<void>;
}

/**
 * A transition of a claim that this process no longer surely holds: it was paused past the lock's stale
 * time, and another process may own the job now. Nothing of the job was touched; its holder's recovery
 * takes it on.
 */
export class ClaimLostError extends Error {
  constructor(
    readonly id: string,
    /** Before which step it was found lost, e.g. `before it was queued again`. */
    readonly when: string,
  ) {
    super(`lost the claim of ${id} ${when}`);
  }
}

/** Throws ClaimLostError unless `claim` is surely still held: a transition never acts on a job another process may own. */
async function mustHold(claim: Claim, when: string): Promise<void> {
  if (!(await claim.held())) throw new ClaimLostError(claim.id, when);
}

/**
 * claim: inbox|deferred/<name> → active/<name> under the job's lock. Returns null, quietly, when another
 * worker holds the lock or has already moved the file (ENOENT means someone else won). The file is
 * read only if it has at most `maxBytes` (the worker's policy.max_job_bytes).
 *
 * A fresh inbox file whose id is already used (by a job in deferred/, active/, done/ or failed/) is held
 * where it is, marked `duplicateOf`: moving it would replace, or be confused with, the other job.
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
 * claim, of an inbox file whose id another job holds, to reject it: under the duplicate lock alone, so
 * that it is taken at once even while that job runs (its run holds the job's own lock). Returns null if
 * the file is gone, no longer a duplicate, or another process is rejecting it.
 */
export function claimDuplicate(layout: SpoolLayout, name: string, maxBytes = MAX_JOB_BYTES): Promise<Claim | null> {
  return holdJob(layout, name, 'inbox', maxBytes, true);
}

/**
 * take over: the lock of an orphaned active job (its owner died and the lock went stale, or it was
 * released without the file moving on). Returns null if a live process still holds it.
 */
export function takeOverJob(layout: SpoolLayout, name: string): Promise<Claim | null> {
  return holdJob(layout, name, null, MAX_JOB_BYTES);
}

/**
 * The lock under which inbox/<name> is rejected as a duplicate, whoever finds it (a claim, which also holds
 * the job's lock, or claimDuplicate): one rejecter at a time. `~` is in no job id: no job's lock has this name.
 */
const duplicateLockName = (name: string) => `${name}~duplicate`;

async function holdJob(
  layout: SpoolLayout,
  name: string,
  from: 'inbox' | 'deferred' | null,
  maxBytes: number,
  onlyDuplicate = false,
): Promise<Claim | null> {
  const lost = new AbortController();
  const locks: HeldLock[] = [];
  const release = async () => void (await Promise.all(locks.splice(0).map((l) => l.release())));
  const held = async () => locks.length > 0 && (await Promise.all(locks.map((l) => l.held()))).every(Boolean);
  const lock = async (lockName: string) => {
    const taken = await tryLock(layout.dir('active'), lockName, (err) => lost.abort(err));
    if (taken) locks.push(taken);
    return taken !== null;
  };
  if (!(await lock(onlyDuplicate ? duplicateLockName(name) : name))) return null;
  const active = join(layout.dir('active'), name);
  try {
    const source = from ? join(layout.dir(from), name) : active;
    const st = await lstat(source);
    // An inbox file is a duplicate if another file has its id. Any other copy beside a deferred file, and
    // the same file under a second name, are a move cut short (link, then unlink, which failed): recovery
    // resolves them; a rename onto a second name of the same file does nothing and would leave both.
    const other = from ? await otherCopy(layout, jobIdOf(name), source, st, from === 'inbox' ? TAKEN_IN : ['active']) : null;
    const duplicateOf = from === 'inbox' && other && !other.sameFile ? other.state : null;
    const skip = (other && !duplicateOf) || (onlyDuplicate ? !duplicateOf : duplicateOf !== null && !(await lock(duplicateLockName(name))));
    // Paused past the stale time since its lock was taken: another worker may have claimed and moved the file on.
    if (skip || !(await held())) {
      await release();
      return null;
    }
    if (from && !duplicateOf) await renameDurable(source, active);
    const path = duplicateOf ? source : active;
    const base = { name, id: jobIdOf(name), path, from, queuedAt: st.ctimeMs, duplicateOf, lost: lost.signal, held, release };
    return { ...base, content: await readJobFile(path, maxBytes) };
  } catch (err) {
    await release();
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** The states whose file of an id makes an inbox file of that id a duplicate, in the order they are named. */
const TAKEN_IN = ['active', 'deferred', 'done', 'failed'] as const;

/** Another file of job `id` in `states` (the first found), and whether it is the file at `path` (`st`) itself. */
async function otherCopy(
  layout: SpoolLayout,
  id: string,
  path: string,
  st: Stats,
  states: readonly JobState[],
): Promise<{ state: JobState; sameFile: boolean } | null> {
  // All at once (each is a wait on a fresh job's path to Codex), the first found in the order named.
  const seen = await Promise.all(states.map((state) => lstat(layout.job(state, id)).catch(ifMissing(null))));
  const i = seen.findIndex((there) => there !== null);
  if (i < 0) return null;
  const state = states[i]!;
  // A move cut short leaves a second name beside a live copy only: only an active/ file can be the source of
  // one into the inbox (recovery's return). A finished job's file linked into the inbox by hand (to run it
  // again) is a duplicate to reject: nothing would ever resolve it, and it would sit there unreported.
  if (isFinished(state)) return { state, sameFile: false };
  return { state, sameFile: await isSecondName(path, st, layout.job(state, id), seen[i]!, state === 'active') };
}

/**
 * Whether `a` and `b` are two names of one job file: a move cut short between its link and its unlink.
 * The same inode says so on a local file system. Through sshfs each name shows an inode number of its own
 * and one link, so there (`byBytes`) two regular files of the same bytes say so: no two distinct job files
 * a move can leave are equal (a run writes its run_id into the active file, a requeue its worker fields).
 */
export async function isSecondName(a: string, aSt: Stats, b: string, bSt: Stats, byBytes: boolean): Promise<boolean> {
  if (aSt.ino === bSt.ino && aSt.dev === bSt.dev) return true;
  if (!byBytes || !aSt.isFile() || !bSt.isFile() || aSt.size !== bSt.size || aSt.size > MAX_JOB_BYTES) return false;
  // Neither is waited on: a name swapped for a FIFO since its lstat is no second name.
  const [x, y] = await Promise.all([readSmallFileBytes(a, MAX_JOB_BYTES), readSmallFileBytes(b, MAX_JOB_BYTES)]);
  return x !== null && y !== null && x.equals(y);
}

/**
 * finish: active → done|failed as `record` (the job plus its result). Pre: the caller holds the claim.
 * Post: `first` (its run's files: summary, meta) durable before the finished file is placed, so a filed
 * result never names files a power loss dropped (all are written at once); the finished file complete before
 * the active copy goes; the lock released.
 */
export async function finishJob(
  layout: SpoolLayout,
  claim: Claim,
  state: 'done' | 'failed',
  record: object,
  first: JsonFiles = [],
): Promise<string> {
  const path = layout.job(state, claim.id);
  await mustHold(claim, `before it was filed in ${state}/`);
  await fileLogged(layout, path, () => writeJsonGroupsAtomic([first, [[path, record]]]));
  await Promise.all([
    // A retried job that now succeeds leaves no stale failure behind.
    state === 'done' ? unlinkIfThere(layout.job('failed', claim.id)) : undefined,
    unlinkIfThere(claim.path),
    unlinkIfThere(layout.cancelRequest(claim.id)),
  ]);
  await syncDir(layout.dir('active'));
  await claim.release();
  return path;
}

/**
 * The name a rejected file is kept under: its id when that is a valid job id, else a stand-in made
 * from its hash, so that no name chosen by whoever wrote the file is ever shown or reused as is (pure).
 */
export function rejectedStem(id: string): string {
  return JobId.safeParse(id).success ? id : standInName(Buffer.from(id));
}

/** `bad-name-<hash>`: what a file is kept as when its own name may not be shown or reused (pure). */
const standInName = (name: Buffer) => `bad-name-${createHash('sha256').update(name).digest('hex').slice(0, 16)}`;

/**
 * `base`, or `base~N`, whichever names neither a file nor an error file in rejected/ yet: nothing is ever
 * replaced. Except an error file alone that names `jobFile`: a rejection of a file of this name cut short
 * before it moved the file (a killed worker; recovery put the file back). Kept, it would stand for a job of
 * its own in `status` (`<stem>.error`), and this file's id would find nothing.
 */
async function unusedStem(layout: SpoolLayout, base: string, jobFile: string): Promise<string> {
  const taken = async (stem: string) =>
    (await exists(layout.job('rejected', stem))) || ((await exists(layout.rejection(stem))) && !(await rejectionOf(layout, stem, jobFile)));
  let stem = base;
  for (let n = 1; await taken(stem); n++) stem = `${base}~${n}`;
  return stem;
}

/** rejected/<stem>.error.json gives `jobFile` as the file it rejected (a file over 64 KiB, or not JSON: it does not). */
async function rejectionOf(layout: SpoolLayout, stem: string, jobFile: string): Promise<boolean> {
  const error = objectOr(parseJsonOrNull((await readSmallFile(layout.rejection(stem), 64 * 1024)) ?? ''));
  return error?.job_file === jobFile;
}

/**
 * reject: the claimed file → rejected/<stem>.json with its bytes unchanged and `<stem>.error.json` beside
 * it (written first, so a rejected job never lacks its reason; its `job_file` keeps the original name).
 * Names are made unique: nothing is ever replaced.
 */
export async function rejectJob(layout: SpoolLayout, claim: Claim, error: RejectionError): Promise<string> {
  // A duplicate is kept apart from the job whose id it took: `status` must not list that job as rejected.
  const base = error.reason === 'duplicate_id' ? `${rejectedStem(claim.id)}~duplicate` : rejectedStem(claim.id);
  const stem = await unusedStem(layout, base, claim.name);
  await mustHold(claim, 'before it was rejected');
  await writeJsonAtomic(layout.rejection(stem), error);
  const path = layout.job('rejected', stem);
  await fileLogged(layout, path, () => renameDurable(claim.path, path));
  await claim.release();
  return path;
}

/**
 * reject, for names that are not UTF-8: such a file cannot be named by a string (Node reads its name with
 * U+FFFD in place of the bad bytes), so it would sit in the inbox unseen for ever. It is moved by its raw
 * name to rejected/bad-name-<hash>.json, its reason beside it. Returns how many it moved.
 */
export async function rejectUndecodableNames(layout: SpoolLayout, state: 'inbox' | 'deferred'): Promise<number> {
  let moved = 0;
  for (const raw of await readdir(layout.dir(state), { encoding: 'buffer' })) {
    const name = raw.toString('utf8');
    if (Buffer.from(name, 'utf8').equals(raw) || !name.endsWith('.json') || name.startsWith('.')) continue;
    const stem = await unusedStem(layout, standInName(raw), name);
    const error: RejectionError = {
      job_file: name,
      reason: 'bad_name',
      message: 'file name is not UTF-8',
      issues: [],
      rejected_at: new Date().toISOString(),
    };
    await writeJsonAtomic(layout.rejection(stem), error);
    const from = Buffer.concat([Buffer.from(`${layout.dir(state)}/`), raw]);
    const to = layout.job('rejected', stem);
    moved += await fileLogged(layout, to, () => rename(from, to).then(() => 1, ifMissing(0))); // gone: taken meanwhile
  }
  return moved;
}

/**
 * requeue: active → deferred/ as `job` (the worker's facts included: its place in the queue, attempts,
 * when it may run). The inbox is never written by the worker: it holds only what was submitted.
 * Post: the job is claimable again; lock released.
 */
export async function requeueJob(layout: SpoolLayout, claim: Claim, job: QueuedJob): Promise<void> {
  await mustHold(claim, 'before it was queued again');
  await writeJsonAtomic(claim.path, job);
  await moveNoReplace(claim.path, layout.job('deferred', claim.id));
  await claim.release();
}

/** drop: removes the claimed active copy of a job that is already filed, or still queued under its other name. */
export async function dropJob(claim: Claim): Promise<void> {
  await mustHold(claim, 'before its active copy was removed');
  await unlink(claim.path);
  await claim.release();
}

/**
 * Moves a claimed job file back where it came from, bytes unchanged (recovery of a job that never got as
 * far as being validated). Never replaces a file there: a link cannot.
 */
export async function returnJob(layout: SpoolLayout, claim: Claim, to: 'inbox' | 'deferred'): Promise<void> {
  await mustHold(claim, `before it was put back in ${to}/`);
  await moveNoReplace(claim.path, join(layout.dir(to), claim.name));
  await claim.release();
}

/** rename that fails with EEXIST instead of replacing `to` (link, then unlink: a crash between leaves two names of one inode, which recovery resolves). */
async function moveNoReplace(from: string, to: string): Promise<void> {
  await linkNoReplace(from, to);
  await unlink(from);
  await syncDirsOf(to, from);
}

const unlinkIfThere = (path: string) =>
  unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });

/** Marks a claimed job as running `runId`, so that recovery can find its run (and session). */
export async function recordRun(claim: Claim, job: QueuedJob, runId: string): Promise<void> {
  await mustHold(claim, `before its run ${runId} was recorded`);
  const active: ActiveJob = { ...job, run_id: runId };
  await writeJsonAtomic(claim.path, active);
}
