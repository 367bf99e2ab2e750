// Claim locks: proper-lockfile's `active/<name>.lock` directory, refreshed while the claim is held.
// A lock whose owner died goes stale (mtime not refreshed for `staleMs`) and may then be taken over.
import { createHash } from 'node:crypto';
import fs, { type Stats } from 'node:fs';
import { lstat, readdir, unlink, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { basename, dirname, join } from 'node:path';
import { createExclusive } from './atomic-file.js';
import { ifMissing } from '../util/errors.js';
import { loadPolicy } from './policy.js';

/** How long a lock may go unrefreshed before it is stale, and how often its holder refreshes it. */
interface LockTiming {
  staleMs: number;
  updateMs: number;
}

const timings = new Map<string, Promise<LockTiming>>();

/** How often the holder of a lock refreshes it, for a stale time of `staleMs`. */
export const lockUpdateMs = (staleMs: number) => Math.max(1_000, staleMs / 5);

/**
 * The lock timing of the spool whose active/ is `activeDir`: its policy's lock_stale_ms, read once per
 * process, so every worker and command on a spool (on any host) judges staleness alike. A policy that
 * cannot be read is an error, and is read again next time: judged by the default stale time, the live lock
 * of a spool whose policy sets a longer one would pass for stale and be taken over.
 */
function timingOf(activeDir: string): Promise<LockTiming> {
  const root = dirname(dirname(activeDir));
  let timing = timings.get(root);
  if (!timing) {
    timing = loadPolicy(root).then(
      ({ lock_stale_ms: staleMs }) => ({ staleMs, updateMs: lockUpdateMs(staleMs) }),
      (err: unknown) => {
        timings.delete(root);
        throw err;
      },
    );
    timings.set(root, timing);
  }
  return timing;
}

// Loaded on first use: proper-lockfile and the graceful-fs it patches fs with cost every command's start
// several milliseconds, and submit, status, wait and the Claude hook take no lock.
type Lockfile = typeof import('proper-lockfile');
let loaded: Promise<Lockfile> | undefined;
// A CommonJS module: its exports are the namespace's default (the bundle), or the namespace itself (tsc, vitest).
const lockfile = () => (loaded ??= import('proper-lockfile').then((m) => (m as Lockfile & { default?: Lockfile }).default ?? m));
/** Loads proper-lockfile now: a worker does at its start, so that its first claim does not wait for it. */
export const preloadLockfile = async (): Promise<void> => void (await lockfile());

/**
 * The stable path a job's lock hangs on (by name, not on a file that is then renamed). The lock is
 * `<target>.lock`; a name too long for that (a bad name, about to be rejected) is replaced by its hash.
 */
function lockTarget(activeDir: string, name: string): string {
  return join(activeDir, fitName(name));
}

/** `name` if it leaves room for a suffix within the 255-byte name limit, else a stable stand-in. */
function fitName(name: string): string {
  if (Buffer.byteLength(name) <= 200) return name;
  return `long-name-${createHash('sha256').update(name).digest('hex').slice(0, 16)}`;
}

/** A lock this process took. */
export interface HeldLock {
  release(): Promise<void>;
  /**
   * Whether the lock is surely still ours, asked before each change made under it: not reported lost, and
   * renewed within half the stale time, after waiting for one renewal when it is due. A process paused past
   * the stale time (SIGSTOP, a frozen VM) may have lost it to a takeover that its refresh timer has not yet
   * noticed; and a renewal that comes more than the stale time after the last one renews nothing (a taker may
   * have judged it stale in between). Only a pause between this answer and the change is left: the lease
   * every such lock assumes.
   */
  held(): Promise<boolean>;
}

/**
 * Takes the lock of job file `name` without waiting. Returns it, or null when another live process holds
 * it. `onLost` is called if the lock is compromised while held.
 */
export async function tryLock(activeDir: string, name: string, onLost: (err: Error) => void): Promise<HeldLock | null> {
  const target = lockTarget(activeDir, name);
  const { staleMs, updateMs } = await timingOf(activeDir);
  const statFresh = statFresher(staleMs);
  noteClockSteps(); // from the first lock on: a step is seen only by a process that looked before it
  const held = await statFresh(`${target}.lock`).catch(ifMissing(null));
  if (held && lockAge(held.mtimeMs) <= staleMs) return null;
  const tokens = held
    ? await takeoverTurn(join(activeDir, `.takeover-${basename(target)}-${Math.floor(held.mtimeMs / 1000)}`), staleMs)
    : [];
  if (!tokens) return null;
  const lease = new Lease(staleMs, updateMs);
  let instanceGone = false; // lock() replaced it, or found a fresh lock in its place
  try {
    const release = await (await lockfile()).lock(target, {
      fs: lockFsOf(staleMs, lease),
      realpath: false,
      stale: staleMs,
      update: updateMs,
      retries: 0,
      onCompromised: (err) => {
        lease.end();
        onLost(err);
      },
    });
    instanceGone = true;
    return {
      release: () => {
        lease.end();
        return release().catch(() => undefined); // already lost or released: nothing left to undo
      },
      held: () => lease.held(),
    };
  } catch (err) {
    instanceGone = (err as NodeJS.ErrnoException).code === 'ELOCKED';
    if (instanceGone) return null;
    throw err;
  } finally {
    // Our own token always; the dead ones before it only once the instance is gone, else they still mark it.
    await Promise.all((instanceGone ? tokens : tokens.slice(-1)).map((token) => unlink(token).catch(() => undefined))); // tidying only
  }
}

/**
 * How long ago (ms) a lock was last refreshed at wall time `mtimeMs`, not counting forward steps of this host's
 * wall clock seen since (an NTP step, a resume from suspend): such a step ages every lock at once, and a live
 * holder's lock would pass for stale until its next refresh, and be taken over with the run it guards.
 */
function lockAge(mtimeMs: number): number {
  const now = Date.now();
  noteClockSteps();
  let stepped = 0;
  // Before the step: at most its wall time then, plus the watch interval and the second proper-lockfile rounds
  // an mtime up to. A lock refreshed after the step has one at least `ms` later, which matters only for a large step.
  for (const step of clockSteps) if (mtimeMs < step.at - step.ms + CLOCK_WATCH_MS + 1_000) stepped += step.ms;
  return now - mtimeMs - stepped;
}

/** Forward steps of the wall clock against the monotonic one: `ms` forward, noticed at wall time `at`. */
const clockSteps: { at: number; ms: number }[] = [];
/** Wall minus monotonic time when last looked at; it changes only when the wall clock is stepped. */
let clockOffset: number | null = null;
/** Looked at this often, so that a step is placed in time within this much (far less than any stale time). */
const CLOCK_WATCH_MS = 1_000;
/** A change of the offset between two looks smaller than this is no step (slewing moves it by microseconds). */
const MIN_STEP_MS = 1_000;

function noteClockSteps(): void {
  const offset = Date.now() - performance.now();
  if (clockOffset === null) setInterval(noteClockSteps, CLOCK_WATCH_MS).unref();
  else if (offset - clockOffset >= MIN_STEP_MS) clockSteps.push({ at: Date.now(), ms: offset - clockOffset });
  clockOffset = offset;
}

/**
 * A moment on two clocks: the wall clock counts a suspended host's sleep (a frozen VM), the monotonic one is
 * not set back by a clock step. A lease's age is the larger of the two: neither hides a pause.
 */
const moment = () => ({ wall: Date.now(), mono: performance.now() });
type Moment = ReturnType<typeof moment>;
const since = (m: Moment) => Math.max(Date.now() - m.wall, performance.now() - m.mono);

/** When a held lock was last surely ours (this host's clocks): see HeldLock.held. */
class Lease {
  /** Taken before the lock's mkdir: its mtime, from which others judge it, is no earlier. */
  private renewedAt = moment();
  private ended = false;
  /** held() calls waiting for the refresh that is due. */
  private waiters: (() => void)[] = [];
  constructor(
    private readonly staleMs: number,
    private readonly updateMs: number,
  ) {}

  /** A refresh that began at `began` (before its utimes) succeeded. */
  renewed(began: Moment): void {
    if (Math.max(began.wall - this.renewedAt.wall, began.mono - this.renewedAt.mono) < this.staleMs) this.renewedAt = began;
    this.wake();
  }

  /**
   * No one can have taken the lock over: it was renewed less than the stale time ago. Past that, a release
   * must not remove the lock directory: it may be another's by now (a taker's, made after ours went stale).
   */
  untaken(): boolean {
    return since(this.renewedAt) < this.staleMs;
  }

  /** Lost (compromised) or released: never held again. */
  end(): void {
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  private fresh(): boolean {
    return !this.ended && since(this.renewedAt) <= this.staleMs / 2;
  }

  async held(): Promise<boolean> {
    if (!this.ended && !this.fresh()) {
      // Its timer, due by now, refreshes it (renewing the lease, unless past the stale time) or finds it lost.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.updateMs + 500); // a refresh that fails (EIO) is tried again in 1 s
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.fresh();
  }
}

// Why a stale takeover has one taker. proper-lockfile takes over a stale lock by stat → rmdir → mkdir, all
// by name: a taker that read the stale mtime before another's mkdir then removes that one's fresh lock, and
// both "hold" it. So a taker that saw a stale lock instance (its mtime) may call lock() only
// while it holds that instance's takeover token, created exclusively ('wx'). A token is never removed on a
// guess while its taker may be alive: one older than the stale time (its taker was killed) passes the turn
// to the next generation, `-1`, `-2`…, created exclusively too; a taker removes its own token and the dead
// ones it stepped over only once lock() has returned and that instance is gone (replaced by it, or found
// fresh) — a late taker that then makes the token again finds, inside lock(), a fresh lock (ELOCKED) or
// none (a plain mkdir, exclusive by itself). A taker that saw no lock needs no token for the same reason.
// What remains is the lease assumption every such lock makes: a taker paused for longer than
// the stale time between its stat and lock()'s may meet a newer stale instance there; the holder whose lock
// it removes sees it gone at its next refresh and is told through onLost.
// An instance is named by its mtime in whole seconds, the one form of it every host sees alike (SFTP
// carries whole seconds, each NFS or FUSE client numbers inodes its own way); that is enough, as a stale
// instance is replaced only by one made at least the stale time after its last refresh.

/**
 * stat, except that attributes which make a lock (or a takeover token) look stale are asked of the file
 * server again: a network file system's client may serve them from a cache filled before the holder's last
 * refresh (sshfs keeps them 20 s by default, past the stale time). A chmod that changes nothing makes the
 * client fetch them (NFS and FUSE return the attributes after a setattr); if it cannot (another user's
 * lock, EPERM) the cached view is all there is.
 */
function statFreshCb(staleMs: number, now: () => number = Date.now) {
  return (path: string, done: (err: NodeJS.ErrnoException | null, st?: Stats) => void): void =>
    fs.stat(path, (err, seen) => {
      if (err || now() - seen.mtimeMs <= staleMs) return done(err, seen);
      fs.chmod(path, seen.mode & 0o7777, () => fs.stat(path, done));
    });
}
const statFresher = (staleMs: number) => promisify(statFreshCb(staleMs));
/** statFresh judged at `now` on another clock (the file server's, for a run's alive file). */
export const statFreshAt = (path: string, staleMs: number, now: number) => promisify(statFreshCb(staleMs, () => now))(path);

/**
 * The fs proper-lockfile works with: every staleness it judges (lock, check) is judged on statFresh; each
 * refresh of a held lock (utimes) renews its `lease`; and the release of one whose lease has lapsed leaves the
 * lock directory alone (it goes stale, as a dead holder's does, if it is still ours).
 */
function lockFsOf(staleMs: number, lease?: Lease) {
  const utimes = (path: fs.PathLike, atime: fs.TimeLike, mtime: fs.TimeLike, done: fs.NoParamCallback) => {
    const began = moment();
    fs.utimes(path, atime, mtime, (err) => {
      if (!err) lease?.renewed(began);
      done(err);
    });
  };
  const rmdir = (path: fs.PathLike, done: fs.NoParamCallback) => (lease && !lease.untaken() ? done(null) : fs.rmdir(path, done));
  return { ...fs, stat: statFreshCb(staleMs), utimes, rmdir };
}

/**
 * The takeover turn for one stale lock instance: the tokens to remove afterwards (the one made plus the
 * dead ones before it), or null while another live taker has the turn or has just finished.
 */
async function takeoverTurn(base: string, staleMs: number): Promise<string[] | null> {
  const tokens: string[] = [];
  for (let generation = 0; ; generation++) {
    const token = `${base}-${generation}`;
    tokens.push(token);
    if (await createToken(token)) return tokens;
    const made = await statFresher(staleMs)(token).catch(ifMissing(null));
    if (!made || Date.now() - made.mtimeMs <= staleMs) return null;
  }
}

/** Makes `token` if nothing is there: false if it exists; any other error (EACCES, ENOSPC) is thrown. */
async function createToken(token: string): Promise<boolean> {
  try {
    await createExclusive(token, () => writeFile(token, '', { flag: 'wx' }));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * True while a live process holds the lock of job file `name`. Only a read, so a caller's isLocked →
 * tryLock pair is as exclusive as tryLock: a lock taken between the two makes tryLock return null, and
 * one taken and released between them leaves the job file moved on (the caller must find it gone).
 */
export async function isLocked(activeDir: string, name: string): Promise<boolean> {
  const target = lockTarget(activeDir, name);
  // No lock directory, no lock: `status` on a queue asks this of each queued job, and loading proper-lockfile is not free.
  if (!(await lstat(`${target}.lock`).catch(ifMissing(null)))) return false;
  const { staleMs } = await timingOf(activeDir);
  return (await lockfile()).check(target, { fs: lockFsOf(staleMs), realpath: false, stale: staleMs });
}

/**
 * Lock directories in `activeDir` whose holder was killed (after its job moved on, or holding a repo's or a
 * session's lock), once surely abandoned: not refreshed for `olderThanMs`, far past any stale time. Each is
 * taken and released as a claim would take it, so a taker meanwhile is never undone. One whose job file is
 * still in `activeDir` is left to recovery, which takes it over; one it cannot take or remove (another
 * user's, a file-system fault) is left for the next start: a worker's start must not fail on tidying.
 * Returns how many were removed.
 */
export async function removeAbandonedLocks(activeDir: string, olderThanMs: number): Promise<number> {
  let removed = 0;
  for (const name of await readdir(activeDir).catch(ifMissing([]))) {
    if (!name.endsWith('.lock')) continue;
    const target = name.slice(0, -'.lock'.length);
    const [st, job] = await Promise.all(
      [lstat(join(activeDir, name)), lstat(join(activeDir, target))].map((p) => p.catch(ifMissing(null))),
    );
    if (!st?.isDirectory() || Date.now() - st.mtimeMs <= olderThanMs || job) continue;
    const lock = await tryLock(activeDir, target, () => undefined).catch(() => null);
    await lock?.release();
    if (lock && !(await lstat(join(activeDir, name)).catch(ifMissing(null)))) removed++;
  }
  return removed;
}

/**
 * The lock name that keeps one Codex at a time in a working tree (`repo`, by real path) or on a Codex session
 * (`session`, by id), across every worker of the spool.
 */
export function resourceLockName(kind: 'repo' | 'session', key: string): string {
  return `${kind}-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}
