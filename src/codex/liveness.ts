// Whether a run's Codex still lives, as every host sharing the spool can tell, and the fence that makes a
// run judged dead stay dead. /proc shows only this host's processes, and a worker killed (or paused past the
// locks' stale time) on one host leaves its Codex running there: another host must not resume that session,
// or start a Codex in that tree, until it is gone.
//
// The signal: `runs/<run-id>/alive`, rewritten every second by a loop that lives exactly as long as the run's
// Codex (it polls Codex's pid, ignores the stop signals sent to Codex's group and the worker's death) and
// removes the file when Codex is gone. A reader judges it on the file server's clock alone: the file's mtime
// is stamped by the server on each write, and "now" is the mtime of a file the reader has just written there,
// so clock skew between hosts plays no part. Mtimes may be whole seconds (SFTP): an age is off by less than
// 1 s each side, far inside ALIVE_STALE_MS. Absent, or not rewritten for ALIVE_STALE_MS: no Codex.
//
// The fence: Codex is started by a small shell (LAUNCHER) that first writes the alive file, then creates
// `runs/<run-id>/launch` exclusively (O_EXCL, atomic on the file server too), starts the alive loop and execs
// Codex. A worker or host that judges a run dead creates the same file first ("fenced"): the launch of a
// worker paused between its last claim check and its spawn (a SIGSTOP, a slow fork) then finds the file and
// exits 75 without starting Codex. Judging is fence first, alive second: a launch that won the file wrote
// the alive file before it, so the second look sees it fresh. (A whole host frozen between the launcher's
// two steps for ALIVE_STALE_MS is the lease's residual risk: nothing on another host can tell it from death.)
import { open, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createExclusive, readSmallFile, tempPathFor } from '../spool/atomic-file.js';
import { statFreshAt } from '../spool/lock.js';
import { ifMissing, isMissing } from '../util/errors.js';

/**
 * An alive file older than this on the server's clock is a dead run's: ten missed beats. Not the spool's
 * lock_stale_ms (as low as 3 s), which a loaded host's alive loop could miss by whole-second mtimes and a slow beat.
 */
const ALIVE_STALE_MS = 10_000;

/** The exit code of a launch that found its run fenced: Codex was never started. */
export const FENCED_EXIT = 75;

// `$1` the run directory, then Codex's path and argv. The loop ignores the stop signals sent to the group from
// its birth (it must outlive a Codex that takes its time to stop), Codex gets them back, and the loop writes
// (a touch would stamp this host's clock). A Codex that has exited but is not reaped (its worker paused) is a
// zombie, which `kill -0` still finds: the loop ends on it too, so that the run can be filed from its events.
// The loop is a `sh` of its own (named codex-spool-alive in ps), not a fork of the launch: its command line
// names the run, not Codex.
const LAUNCHER = `d=$1; shift
printf . 2>/dev/null >"$d/alive"
set -C; printf started 2>/dev/null >"$d/launch" || exit ${FENCED_EXIT}; set +C
trap '' INT TERM HUP
sh -c 'while kill -0 "$1" 2>/dev/null; do
  read -r s </proc/$1/stat; s=\${s##*) }; [ "\${s%% *}" = Z ] && break
  sleep 1; printf . >"$2/alive"
done; rm -f "$2/alive"' codex-spool-alive $$ "$d" </dev/null >/dev/null 2>&1 &
trap - INT TERM HUP
exec "$@"`;

/** The command that starts Codex for the run in `runDir` unless the run is fenced (pure). */
export const launchCommand = (runDir: string, codexBin: string, argv: readonly string[]): [string, string[]] => [
  '/bin/sh',
  ['-c', LAUNCHER, 'codex-spool-launch', runDir, codexBin, ...argv],
];

/** The run directory's alive file (pure). */
export const aliveFile = (runDir: string) => join(runDir, 'alive');

/** Marks the run alive before its id is recorded anywhere, so no reader finds the run without the file. */
export const markAlive = (runDir: string) => writeFile(aliveFile(runDir), '.');

/**
 * The file server's clock now (ms): the mtime of a file just written in `runsDir`. A name of its own, made
 * exclusively and removed at once: runs/ of a shared spool is writable by its other users, and at a name
 * they can foresee a link would have the write go through it (over a file of ours) and a FIFO hold it for ever.
 */
export async function serverNow(runsDir: string): Promise<number> {
  const probe = tempPathFor(join(runsDir, 'clock'));
  const file = await open(probe, 'wx', 0o644);
  try {
    await file.write('.');
    await file.sync(); // on the server before its mtime is asked: not a network client's own stamp of a cached write
    return (await file.stat()).mtimeMs; // a cached (older) view only makes runs look younger: never wrongly dead
  } finally {
    await file.close();
    await unlink(probe);
  }
}

/** The run in `runDir` has a live Codex on some host, judged at server time `now` (see serverNow). */
export async function aliveAnywhere(runDir: string, now: number): Promise<boolean> {
  // A stale-looking mtime is asked of the server again: a client's attribute cache must not kill a live run.
  const st = await statFreshAt(aliveFile(runDir), ALIVE_STALE_MS, now).catch(ifMissing(null)); // an EIO is not death: it surfaces
  return st != null && now - st.mtimeMs <= ALIVE_STALE_MS;
}

const launchFile = (runDir: string) => join(runDir, 'launch');

/** The run in `runDir` was fenced before its Codex was started (its launch exited FENCED_EXIT). */
export const wasFenced = async (runDir: string) => (await readSmallFile(launchFile(runDir), 64)) === 'fenced';

/**
 * The run in `runDir` has a live Codex on some host (see aliveAnywhere); when it has none, it is fenced
 * first, so that a Codex not yet started never is (a fence on a started run, or a second one, changes nothing).
 */
export async function aliveElseFenced(runDir: string, now: number): Promise<boolean> {
  if (await aliveAnywhere(runDir, now)) return true;
  try {
    await createExclusive(launchFile(runDir), () => writeFile(launchFile(runDir), 'fenced', { flag: 'wx' }));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST' && !isMissing(err)) throw err; // launched, fenced, or no run
  }
  return aliveAnywhere(runDir, now); // a launch that beat the fence wrote the alive file before it (now - mtime < 0: fresh)
}
