// Claim locks: proper-lockfile's `active/<name>.lock` directory, refreshed while the claim is held.
// A lock whose owner died goes stale (mtime not refreshed for `staleMs`) and may then be taken over.
import { createHash } from 'node:crypto';
import { stat, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';

/** One setting for staleness and refresh, shared by every worker on a spool. */
export const LOCK_STALE_MS = 10_000;
const LOCK_UPDATE_MS = 2_000;

// Loaded on first use: proper-lockfile and the graceful-fs it patches fs with cost every command's start
// several milliseconds, and submit, status, wait and the Claude hook take no lock.
type Lockfile = typeof import('proper-lockfile');
let loaded: Promise<Lockfile> | undefined;
// A CommonJS module: its exports are the namespace's default (the bundle), or the namespace itself (tsc, vitest).
const lockfile = () =>
  (loaded ??= import('proper-lockfile').then((m) => (m as Lockfile & { default?: Lockfile }).default ?? m));

/**
 * The stable path a job's lock hangs on (by name, not on a file that is then renamed). The lock is
 * `<target>.lock`; a name too long for that (a bad name, about to be rejected) is replaced by its hash.
 */
function lockTarget(activeDir: string, name: string): string {
  return join(activeDir, fitName(name));
}

/** `name` if it leaves room for a suffix within the 255-byte name limit, else a stable stand-in. */
export function fitName(name: string): string {
  if (Buffer.byteLength(name) <= 200) return name;
  return `long-name-${createHash('sha256').update(name).digest('hex').slice(0, 16)}`;
}

/**
 * Takes the lock of job file `name` without waiting. Returns its release function, or null when
 * another live process holds it. `onLost` is called if the lock is compromised while held.
 */
export async function tryLock(
  activeDir: string,
  name: string,
  onLost: (err: Error) => void,
): Promise<(() => Promise<void>) | null> {
  const target = lockTarget(activeDir, name);
  const held = await stat(`${target}.lock`).catch(() => null);
  if (held && Date.now() - held.mtimeMs <= LOCK_STALE_MS) return null;
  // proper-lockfile takes over a stale lock by removing it and making its own: two workers doing that
  // at once could both end up "holding" it. Of those that saw this stale lock, only the one that
  // creates its token first may try.
  const token = held ? join(activeDir, `.takeover-${basename(target)}-${held.ino}-${Math.floor(held.mtimeMs)}`) : null;
  if (token && !(await writeFile(token, '', { flag: 'wx' }).then(() => true, () => false))) {
    await removeDeadToken(token);
    return null;
  }
  try {
    const release = await (await lockfile()).lock(target, {
      realpath: false,
      stale: LOCK_STALE_MS,
      update: LOCK_UPDATE_MS,
      retries: 0,
      onCompromised: onLost,
    });
    return () => release().catch(() => undefined);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOCKED') return null;
    throw err;
  } finally {
    if (token) await unlink(token).catch(() => undefined);
  }
}

/** A token left by a taker killed mid-takeover would block that lock for good: clear it once stale. */
async function removeDeadToken(token: string): Promise<void> {
  const made = await stat(token).catch(() => null);
  if (made && Date.now() - made.mtimeMs > LOCK_STALE_MS) await unlink(token).catch(() => undefined);
}

/** True while a live process holds the lock of job file `name`. */
export async function isLocked(activeDir: string, name: string): Promise<boolean> {
  return (await lockfile()).check(lockTarget(activeDir, name), { realpath: false, stale: LOCK_STALE_MS });
}

/** The lock name that keeps one Codex at a time in `repo`'s working tree, across every worker of the spool. */
export function repoLockName(repo: string): string {
  return `repo-${createHash('sha256').update(repo).digest('hex').slice(0, 16)}`;
}
