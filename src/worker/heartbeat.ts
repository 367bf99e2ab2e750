// Whether a worker serves a root: each live worker rewrites spool/workers/<host>-<pid>.json every few
// seconds and removes it when it stops. status, submit, wait and doctor read these files; nothing else does.
import { output } from '../util/output.js';
import { mkdir, readdir, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { writeJsonNote } from '../spool/atomic-file.js';
import { WorkerBeat } from '../spool/schema.js';
import { packageFile, packageVersion } from '../util/package-files.js';
import { procStat } from '../util/process-group.js';
import { formatDuration } from '../util/display.js';
import { safeLine } from '../util/safe-text.js';
import { rootFlag, type SpoolLayout } from '../spool/layout.js';
import { ifMissing } from '../util/errors.js';
import { readJson } from '../spool/json-file.js';

/** How often a worker rewrites its heartbeat. */
const HEARTBEAT_MS = 5_000;
/** A heartbeat older than this (three beats missed) is a worker gone, or paused: it serves nothing. */
export const HEARTBEAT_STALE_MS = 3 * HEARTBEAT_MS;

/** What this host can say of its own processes: a pid's start time (null: no such process). */
type ProcStart = (pid: number) => number | null;
const procStart: ProcStart = (pid) => procStat(pid)?.startTicks ?? null;

/**
 * A heartbeat is live when it is fresh (dated within the stale limit of now, either way) and, on this host,
 * its writer is still the process that wrote it (a SIGKILLed worker is gone at once; a reused pid has
 * another start time). Pure.
 */
export function isLive(beat: WorkerBeat, now: number, host: string, startOf: ProcStart): boolean {
  // Dated ahead (a forged file, a skewed clock) or not a time at all, it would count for ever.
  if (!(Math.abs(now - Date.parse(beat.heartbeat)) <= HEARTBEAT_STALE_MS)) return false;
  if (beat.host !== host) return true;
  const start = startOf(beat.pid);
  return start !== null && (beat.proc_start === null || start === beat.proc_start);
}

/** A heartbeat is a few hundred bytes; a larger file is not one. */
const MAX_BEAT_BYTES = 4096;

/** The heartbeats in spool/workers/ that parse, each with its file (gone meanwhile, a link, a FIFO…: none). */
async function readBeats(layout: SpoolLayout): Promise<{ file: string; beat: WorkerBeat }[]> {
  const dir = layout.workers;
  const names = (await readdir(dir).catch(ifMissing([]))).filter((n) => n.endsWith('.json') && !n.startsWith('.'));
  const beats = await Promise.all(
    names.map(async (name) => {
      const beat = await readJson(join(dir, name), WorkerBeat, MAX_BEAT_BYTES);
      return beat && { file: join(dir, name), beat };
    }),
  );
  return beats.filter((b) => b !== null);
}

/** The workers serving the root now, oldest first. */
export async function liveWorkers(layout: SpoolLayout, now = Date.now()): Promise<WorkerBeat[]> {
  const host = hostname();
  return (await readBeats(layout))
    .map((b) => b.beat)
    .filter((beat) => isLive(beat, now, host, procStart))
    .sort((a, b) => a.started.localeCompare(b.started));
}

/** A worker's heartbeat, written until `stop()`, which removes it. */
export interface Heartbeat {
  stop(): Promise<void>;
}

/**
 * Starts this process's heartbeat (the spool must exist). First removes the files of this host's workers
 * that died without removing theirs (SIGKILL, a crash), so that the directory does not fill with them.
 */
export async function startHeartbeat(layout: SpoolLayout, concurrency: number, log: (line: string) => void): Promise<Heartbeat> {
  const host = hostname();
  await mkdir(layout.workers, { recursive: true, mode: 0o700 });
  for (const { file, beat } of await readBeats(layout)) {
    if (beat.host === host && beat.pid !== process.pid && procStart(beat.pid) !== beat.proc_start)
      await unlink(file).catch(() => undefined); // best effort: a stale beat only misinforms doctor
  }
  const file = join(layout.workers, `${host}-${process.pid}.json`);
  const self = {
    pid: process.pid,
    host,
    started: new Date().toISOString(),
    version: packageVersion(),
    concurrency,
    proc_start: procStart(process.pid),
  };
  // A note, not synced: a beat that a power loss takes names a worker that died with it; two fsyncs every
  // 5 s kept an idle worker's disk awake.
  // A missed beat is logged, not fatal: the worker keeps running jobs; it only looks gone meanwhile. The first
  // too: a worker started on a full disk would exit, and its supervisor give up restarting it before space is back.
  const write = () =>
    writeJsonNote(file, { ...self, heartbeat: new Date().toISOString() } satisfies WorkerBeat).catch((err: Error) =>
      log(`heartbeat: ${err.message}`),
    );
  let writing = write();
  await writing;
  const timer = setInterval(() => (writing = write()), HEARTBEAT_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await writing; // else a write under way would put the file back after it is removed
      await unlink(file).catch(() => undefined); // best effort: exiting anyway; the next start removes it
    },
  };
}

/** One line naming the workers that serve `root` (pure): `worker host:12 up 3m12s` …, or `no live worker on <root>`. */
export function workersLine(beats: readonly WorkerBeat[], root: string, now: number): string {
  if (beats.length === 0) return `no live worker on ${safeLine(root)}`;
  const one = (b: WorkerBeat) => `${safeLine(b.host)}:${b.pid} up ${formatDuration((now - Date.parse(b.started)) / 1000)}`;
  return `${beats.length === 1 ? 'worker' : `${beats.length} workers:`} ${beats.map(one).join(', ')}`;
}

/** Says once on stderr, when no worker serves the root, what that means for `what` (the job waits, …). */
export async function noteIfNoWorker(layout: SpoolLayout, what: string): Promise<void> {
  if ((await liveWorkers(layout)).length > 0) return;
  output.err(`codex-spool: ${workersLine([], layout.root, 0)}: ${what} (start one: ${startWorkerHint(layout.root)})\n`);
}

/**
 * How to start a worker on `root`. `npm start` and a bare `codex-spool worker` serve the default root (from
 * $CODEX_SPOOL_ROOT, else the package's directory), so for any other root only `--root` reaches it.
 */
export function startWorkerHint(root: string): string {
  const flag = rootFlag(root);
  if (flag) return `codex-spool worker${flag}`;
  return root === resolve(packageFile('')) ? `npm start in ${safeLine(root)}, or codex-spool worker` : 'codex-spool worker';
}
