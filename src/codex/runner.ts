// Running one Codex process: its stdin, stdout and stderr are files of the run that Codex reads and writes
// itself (the output followed as it grows for a digest of its events); its process group is stopped the way
// Codex wants (SIGINT first: it kills the running tool command and keeps the session resumable; SIGTERM
// would orphan that command).
//
// Why files and not pipes: Codex gets its whole task, and what it printed is on disk, whatever becomes of
// the worker (killed, paused, out of memory), so recovery can read how a run ended; and the run ends when
// Codex exits, with nothing to wait for from a command it started that left its group holding its output open.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { emptyDigest, foldEventLine, foldLogLine, type EventDigest } from './events.js';
import { LineSplitter } from '../util/line-splitter.js';
import { openRegular } from '../util/regular-file.js';
import { killGroup, procStat, stopGroup } from '../util/process-group.js';
import { clampTimerMs } from '../util/timer-bounds.js';
import { FENCED_EXIT, aliveFile, launchCommand, wasFenced } from './liveness.js';
import { findOnPath, isExecutableFile } from '../util/path-lookup.js';

export interface CodexRunOptions {
  codexBin: string;
  /** Ends with `-`: Codex reads the prompt from stdin. */
  argv: string[];
  /** Codex's stdin: no length limit (E2BIG), and not visible to other users in `ps`. */
  prompt: string;
  /**
   * Where the prompt is written first: Codex reads it from this file, so it gets the whole prompt whatever
   * becomes of the worker (through a pipe, a worker killed mid-write would hand it a task cut short).
   */
  promptFile: string;
  /** The run's directory: its launch file fences the run, its alive file is kept fresh while Codex lives (see liveness.ts). */
  runDir: string;
  eventsFile: string;
  logFile: string;
  /** Wall-clock limit; past it the run is stopped and reported as timed out. */
  timeoutMs?: number;
  /** Longest time without progress (a thread, turn or item event); past it the run is stopped as stalled. */
  stallMs?: number;
  /** How long each stop signal is given before the next, harder one. */
  graceMs: number;
  /** Aborted when the run must stop now (worker shutdown, lost claim). */
  stop: AbortSignal;
  /** Aborted when the user cancels the job. */
  cancel: AbortSignal;
  onSpawn(pid: number): void;
  onSessionId(sessionId: string): void;
}

export interface CodexRunOutcome {
  exitCode: number | null;
  signal: string | null;
  /** Stopped by a time limit: the wall clock, or a stall (then `stalled` too). */
  timedOut: boolean;
  stalled: boolean;
  /** Stalled while Codex's only output since its last progress was reconnecting: its last such notice. */
  waitingForNetwork: string | null;
  /** Stopped through `stop`, not by its own doing. */
  stopped: boolean;
  cancelled: boolean;
  /** Set when Codex could not be started at all. */
  spawnError: string | null;
  /** Codex was not started: the run had been judged dead and fenced (see liveness.ts) while the worker was away. */
  fenced: boolean;
  digest: EventDigest;
}

/** How often the run's files are read for new output while Codex runs. */
const FOLLOW_MS = 100;
/** Longest line parsed as an event; longer lines are kept in the run's files but not parsed. */
const MAX_LINE_BYTES = 1024 * 1024;

/** Runs Codex to its end (or until stopped) and returns how it ended with a digest of its events. */
export async function runCodex(opts: CodexRunOptions): Promise<CodexRunOutcome> {
  const digest = emptyDigest();
  let timedOut = false;
  let stalled = false;
  let waitingForNetwork: string | null = null;
  const outcome = (end: Pick<CodexRunOutcome, 'exitCode' | 'signal' | 'spawnError'>, fenced = false): CodexRunOutcome => ({
    ...end,
    fenced,
    timedOut,
    stalled,
    waitingForNetwork,
    stopped: opts.stop.aborted,
    cancelled: opts.cancel.aborted,
    digest,
  });

  let child: ChildProcess;
  const files: number[] = [];
  try {
    writeFileSync(opts.promptFile, opts.prompt);
    files.push(openSync(opts.promptFile, 'r'));
    for (const file of [opts.eventsFile, opts.logFile]) files.push(openSync(file, 'w')); // a throw closes the others
    // The launch shell reports a Codex it cannot exec only by its exit code: a missing one is told here, as spawn would.
    const found = opts.codexBin.includes('/') ? isExecutableFile(opts.codexBin) : findOnPath(opts.codexBin) !== null;
    if (!found) throw new Error(`spawn ${opts.codexBin} ENOENT (not found, or not an executable file)`);
    const [shell, args] = launchCommand(opts.runDir, opts.codexBin, opts.argv);
    child = spawn(shell, args, { stdio: files, detached: true }); // own group: signal the tree
  } catch (err) {
    if (files.length < 3) throw err; // the run's files could not be written or opened: not Codex's doing
    return outcome({ exitCode: null, signal: null, spawnError: (err as Error).message }); // E2BIG and kin throw
  } finally {
    for (const fd of files) closeSync(fd); // Codex has its own copies
  }
  // Until it exits, 'error' means Codex could not be started (ENOENT, EACCES) or a signal was not sent.
  const failed = new Promise<Error>((resolve) => child.on('error', resolve));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );

  let stallTimer: NodeJS.Timeout | null = null;
  let reportedSession: string | null = null;
  const reportSession = () => {
    if (digest.sessionId && digest.sessionId !== reportedSession) opts.onSessionId((reportedSession = digest.sessionId));
  };
  const outputs = [
    follow(opts.eventsFile, (line) => {
      const progress = digest.progress;
      foldEventLine(digest, line);
      if (digest.progress !== progress) stallTimer?.refresh();
      reportSession();
    }),
    follow(opts.logFile, (line) => {
      foldLogLine(digest, line);
      reportSession();
    }),
  ];
  const poller = setInterval(() => outputs.forEach((o) => void o.poll()), FOLLOW_MS);
  const pid = child.pid;
  if (pid === undefined) {
    const err = await failed;
    clearInterval(poller);
    await Promise.all(outputs.map((o) => o.finish()));
    return outcome({ exitCode: null, signal: null, spawnError: err.message });
  }
  opts.onSpawn(pid);

  let stopping: Promise<void> | null = null;
  const gone = exited.then(() => undefined);
  const stopNow = () => (stopping ??= stopCodexGroup(pid, opts.graceMs, gone));
  const limit = (ms: number | undefined, onLimit: () => void) =>
    ms === undefined ? null : setTimeout(() => (onLimit(), stopNow()), clampTimerMs(ms));
  const wallTimer = limit(opts.timeoutMs, () => (timedOut = true));
  stallTimer = limit(opts.stallMs, () => {
    timedOut = stalled = true;
    waitingForNetwork = digest.reconnecting;
  });
  const onAbort = () => void stopNow();
  for (const signal of [opts.stop, opts.cancel]) {
    signal.addEventListener('abort', onAbort);
    if (signal.aborted) onAbort();
  }

  // The run's end is Codex's exit, not the end of its pipes.
  const { code, signal } = await exited;
  for (const timer of [wallTimer, stallTimer]) if (timer) clearTimeout(timer);
  for (const s of [opts.stop, opts.cancel]) s.removeEventListener('abort', onAbort);
  killGroup(pid, 'SIGKILL'); // what is left of its group (the alive loop too); a process that left the group is not reached
  // Codex has run: nothing from here may throw, or the run would be taken for one that never started. A
  // failed removal leaves the file to go stale, which only makes others wait for it.
  await rm(aliveFile(opts.runDir), { force: true }).catch(() => undefined);
  clearInterval(poller);
  await Promise.all(outputs.map((o) => o.finish()));
  await stopping;
  const fenced = code === FENCED_EXIT && (await wasFenced(opts.runDir).catch(() => false)); // unreadable: an exit code like any other
  return outcome({ exitCode: code, signal, spawnError: null }, fenced);
}

interface FollowedFile {
  /** Reads what was appended since the last read (reads never overlap). */
  poll(): Promise<void>;
  /** Reads the rest and hands on a last unterminated line: call once Codex has exited. */
  finish(): Promise<void>;
}

/**
 * Follows a file Codex writes, handing each line of at most MAX_LINE_BYTES to `onLine`; a longer line
 * is in the file but not parsed (no event of Codex's comes near that size), and memory stays bounded.
 */
function follow(file: string, onLine: (line: string) => void): FollowedFile {
  const splitter = new LineSplitter(MAX_LINE_BYTES, onLine);
  const buf = Buffer.alloc(64 * 1024);
  let offset = 0;
  let reading = Promise.resolve();
  const readNew = async () => {
    const fh = (await openRegular(file))?.file;
    if (!fh) return; // not there, or not a regular file: nothing to read (never a wait on a FIFO)
    try {
      for (let n = -1; n !== 0; offset += n) {
        n = (await fh.read(buf, 0, buf.length, offset)).bytesRead;
        splitter.push(buf.subarray(0, n));
      }
    } finally {
      await fh.close();
    }
  };
  const poll = () => (reading = reading.then(readNew).catch(() => undefined)); // unreadable now: next time
  return {
    poll,
    async finish() {
      await poll();
      splitter.end();
    },
  };
}

/** `codex --version`, or null if it cannot be run. */
export async function codexVersion(codexBin: string): Promise<string | null> {
  const result = await execa(codexBin, ['--version'], { stdin: 'ignore', reject: false, timeout: 15_000 });
  return result.exitCode === 0 ? String(result.stdout).trim() : null;
}

/** The run's process: its pid, and its run id, which its command line names (`-o runs/<run-id>/…`). */
interface RunProcess {
  pid: number | null;
  run_id: string;
}

/**
 * Stops the process group of a Codex run whose worker died (Codex outlives it: it runs detached).
 * Only that run's live process is signalled: a pid reused by another process is left alone.
 */
export async function stopOrphanGroup(run: RunProcess, graceMs: number): Promise<void> {
  if (!isRunAlive(run)) return;
  const exited = (async () => {
    while (isRunAlive(run)) await sleep(50);
  })();
  await stopCodexGroup(run.pid!, graceMs, exited);
}

/** The run's Codex is alive: a live leader of its own group whose command line names the run (pids are reused). */
export function isRunAlive({ pid, run_id }: RunProcess): boolean {
  if (pid === null || !isGroupLeader(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(run_id);
  } catch {
    return false;
  }
}

/** SIGINT, then SIGTERM, then SIGKILL to Codex's process group, each after `graceMs` if it has not exited. */
function stopCodexGroup(pid: number, graceMs: number, exited: Promise<void>): Promise<void> {
  return stopGroup(pid, ['SIGINT', 'SIGTERM', 'SIGKILL'], graceMs, exited);
}

function isGroupLeader(pid: number): boolean {
  const st = procStat(pid);
  return st !== null && st.state !== 'Z' && st.pgrp === pid;
}
