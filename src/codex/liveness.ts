// Whether a run's Codex still lives, as every host sharing the spool can tell. /proc shows only this host's
// processes, and a worker killed (or paused past the locks' stale time) on one host leaves its Codex running
// there: another host must not resume that session, or start a Codex in that tree, until it is gone.
//
// The signal: `runs/<run-id>/alive`, rewritten every second by a watcher process that lives exactly as long
// as the run's Codex (it polls Codex's pid, not the worker's, and ignores the worker's death) and removes
// the file when Codex is gone. A reader judges it on the file server's clock alone: the file's mtime is
// stamped by the server on each write, and "now" is the mtime of a file the reader has just written there,
// so clock skew between hosts plays no part. Mtimes may be whole seconds (SFTP): an age is off by less
// than 1 s each side, far inside ALIVE_STALE_MS. Absent, or not rewritten for ALIVE_STALE_MS: no Codex.
import { spawn } from 'node:child_process';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { statFreshAt } from '../spool/lock.js';

/**
 * An alive file older than this on the server's clock is a dead run's: ten missed beats. Not the spool's
 * lock_stale_ms (as low as 3 s), which a loaded host's watcher could miss by whole-second mtimes and a slow beat.
 */
const ALIVE_STALE_MS = 10_000;

// `$1` Codex's pid, `$2` the alive file. A write (not a touch: utimes would stamp the writer's clock)
// each second while the pid lives; the worker's signals to its own group do not reach it (detached).
const WATCHER = 'while kill -0 "$1" 2>/dev/null; do printf . > "$2"; sleep 1; done; rm -f "$2"';

/** The run directory's alive file (pure). */
export const aliveFile = (runDir: string) => join(runDir, 'alive');

/** Marks the run alive before its id is recorded anywhere, so no reader finds the run without the file. */
export const markAlive = (runDir: string) => writeFile(aliveFile(runDir), '.');

/** Starts the watcher that keeps `runDir`'s alive file fresh while process `pid` (the run's Codex) lives. */
export function watchRun(pid: number, runDir: string): void {
  const watcher = spawn('/bin/sh', ['-c', WATCHER, 'codex-spool-alive', String(pid), aliveFile(runDir)], {
    detached: true,
    stdio: 'ignore',
  });
  watcher.on('error', () => {}); // cannot fork now: the file goes stale, which only makes others wait for the locks
  watcher.unref();
}

/**
 * The file server's clock now (ms): the mtime of a file just written in `runsDir`. One probe name for
 * every worker: each writes the same byte, and another's write between ours and the stat moves it by ms.
 */
export async function serverNow(runsDir: string): Promise<number> {
  const probe = join(runsDir, '.clock');
  await writeFile(probe, '.');
  return (await stat(probe)).mtimeMs; // a cached (older) view only makes runs look younger: never wrongly dead
}

/** The run in `runDir` has a live Codex on some host, judged at server time `now` (see serverNow). */
export async function aliveAnywhere(runDir: string, now: number): Promise<boolean> {
  // A stale-looking mtime is asked of the server again: a client's attribute cache must not kill a live run.
  const st = await statFreshAt(aliveFile(runDir), ALIVE_STALE_MS, now).catch(() => null);
  return st != null && now - st.mtimeMs <= ALIVE_STALE_MS;
}
