// `codex-spool claude hook`: the Claude Code SessionStart / UserPromptSubmit hook. Tells a Claude session, once,
// of each job that finished since it last heard. Runs before every prompt, so it is fast and it never fails:
// whatever goes wrong, it prints nothing (or what it has) and the caller exits 0.
//
// Cost: stat of the three finished-state directories and one small state file when nothing was filed since
// the last call; otherwise one directory listing with an lstat per finished job, and reading only the job
// files not heard of yet.
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildDigest, digestJobOf, hookOutput, selectFresh, type DigestJob, type FinishedEntry } from './digest.js';
import { finishedDirMtimes, hookTarget, readSeen, seenDir, stampAs, unchangedSince, type HookInput } from './seen.js';
import { claimHolds, claimsDir, readClaim } from './state.js';
import { JobId, StoredJob, StoredRejection } from '../spool/schema.js';
import { readJsonSync } from '../spool/json-file.js';
import { FINISHED_STATES, isJobFileName, isRejectionOf, jobIdOf, type SpoolLayout, type FinishedState } from '../spool/layout.js';

export type { HookInput } from './seen.js';

/** Job files read per call at most (the newest); older fresh ones are only counted. */
const MAX_READ = 200;
/** Largest job file read. */
const MAX_FILE_BYTES = 256 * 1024;
/** A session's state is forgotten when it has not been written for this long (30 days). */
const SEEN_TTL_MS = 30 * 24 * 3600_000;
/** A state lock older than this is left over from a killed hook. */
const STALE_LOCK_MS = 10_000;

/** The hook's output for `input` (empty string: print nothing). Never throws. */
export function runHook(input: HookInput, root?: string, now = Date.now()): string {
  try {
    const target = hookTarget(input, root);
    if (!target) return '';
    const { event, stem, layout, statePath, stampPath } = target;
    // A spool/ with no finished job (maybe not codex-spool's at all) and no state yet: nothing to record.
    const firstListing = statSync(statePath, { throwIfNoEntry: false }) ? null : listFinished(layout.dir);
    if (firstListing?.length === 0) return '';
    mkdirSync(seenDir(layout.root), { recursive: true, mode: 0o700 });
    const lock = join(seenDir(layout.root), `${stem}.lock`);
    if (!takeLock(lock)) return '';
    try {
      const context = digestFor(layout, statePath, stampPath, stem, firstListing, now);
      return context ? hookOutput(event, context) : '';
    } finally {
      try {
        rmdirSync(lock);
      } catch {
        /* taken over as stale: not ours to remove any more */
      }
    }
  } catch {
    return '';
  }
}

/**
 * The digest for session `stem`, and its state brought up to date. `firstListing` is a listing made before
 * the lock was taken when there was no state: still good if no other hook of the session wrote one since.
 */
function digestFor(
  layout: SpoolLayout,
  statePath: string,
  stampPath: string,
  stem: string,
  firstListing: FinishedEntry[] | null,
  now: number,
): string | null {
  const seen = readSeen(statePath);
  const dirMtimes = finishedDirMtimes(layout);
  if (unchangedSince(seen, dirMtimes)) {
    stampAs(stampPath, seen);
    return null;
  }

  const entries = seen === null && firstListing ? firstListing : listFinished(layout.dir);
  const { fresh, next, firstContact } = selectFresh(entries, seen, dirMtimes, now);
  const toRead = fresh.slice(-MAX_READ);
  const jobs: DigestJob[] = toRead.map((e) => readJob(layout, stem, e));
  writeFileAtomicSync(statePath, `${JSON.stringify(next)}\n`);
  stampAs(stampPath, next);
  // First contact: only the session's own recent jobs (the spool may not have existed when it submitted).
  if (firstContact) {
    pruneState(layout.root, now);
    return buildDigest(jobs.filter((j) => j.mine));
  }
  return buildDigest(jobs, fresh.length - toRead.length);
}

/**
 * Forgets sessions not heard from in SEEN_TTL_MS (their state, and their claims when they have submitted
 * nothing for as long), and temp files a killed hook left. Run on a session's first call only: a listing of
 * two directories of small files, once per Claude session.
 */
export function pruneState(root: string, now = Date.now()): void {
  const old = (path: string, ttl: number) => {
    const st = lstatSync(path, { throwIfNoEntry: false });
    return st !== undefined && now - st.mtimeMs > ttl ? st : null;
  };
  for (const name of readdirSync(seenDir(root))) {
    const ttl = name.endsWith('.tmp') ? 3600_000 : name.endsWith('.json') || name.endsWith('.stamp') ? SEEN_TTL_MS : null;
    const path = join(seenDir(root), name);
    if (ttl !== null && old(path, ttl)?.isFile()) rmSync(path, { force: true });
  }
  for (const name of listOrNone(claimsDir(root))) {
    const path = join(claimsDir(root), name);
    if (old(path, SEEN_TTL_MS)?.isDirectory()) rmSync(path, { recursive: true, force: true });
  }
}

function listOrNone(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Every finished job file: its id, state and ctime, from directory listings and lstat alone. */
function listFinished(dir: (s: FinishedState) => string): FinishedEntry[] {
  const byId = new Map<string, FinishedEntry>();
  for (const state of FINISHED_STATES) {
    const names = listOrNone(dir(state));
    const present = state === 'rejected' ? new Set(names) : null;
    for (const name of names) {
      if (!isJobFileName(name)) continue;
      if (present && isRejectionOf(name, present)) continue;
      const st = lstatSync(join(dir(state), name), { throwIfNoEntry: false });
      if (!st) continue;
      const id = jobIdOf(name);
      // The same id in two states (moved while listed, or retried): the latest filing counts.
      const prev = byId.get(id);
      if (!prev || st.ctimeMs > prev.ctimeMs) byId.set(id, { id, state, ctimeMs: st.ctimeMs });
    }
  }
  return [...byId.values()];
}

function readJob(layout: SpoolLayout, stem: string, e: FinishedEntry): DigestJob {
  try {
    const record = readJsonSync(layout.job(e.state, e.id), StoredJob, MAX_FILE_BYTES);
    const rejection = e.state === 'rejected' ? readJsonSync(layout.rejection(e.id), StoredRejection, MAX_FILE_BYTES) : null;
    const mine = JobId.safeParse(e.id).success && claimHolds(readClaim(layout.root, stem, e.id), record);
    return digestJobOf(e.id, e.state, record, rejection, mine);
  } catch {
    return digestJobOf(e.id, e.state, null); // the hook never fails: a file it cannot read shows as unreadable
  }
}

/** One hook per session at a time: SessionStart and UserPromptSubmit may overlap. Waits up to 2 s. */
function takeLock(path: string): boolean {
  const until = Date.now() + 2000;
  for (;;) {
    try {
      mkdirSync(path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return false;
    }
    const st = statSync(path, { throwIfNoEntry: false });
    if (st && Date.now() - st.mtimeMs > STALE_LOCK_MS) {
      try {
        rmdirSync(path);
      } catch {
        /* someone else took it over */
      }
      continue;
    }
    if (Date.now() > until) return false;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
  }
}

/** Writes `path` atomically: a reader sees the old state or the new one, never half of one. */
function writeFileAtomicSync(path: string, data: string): void {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, path);
}
