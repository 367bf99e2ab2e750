// Running one Codex process: the prompt on its stdin, its stdio copied to the run's files, a digest of its
// events kept as they arrive, its process group stopped the way Codex wants (SIGINT first: it kills the
// running tool command and keeps the session resumable; SIGTERM would orphan that command).
//
// The run ends when Codex exits. Its pipes are not its own: a command it started may leave its process
// group (setsid, a double fork) and keep them open for hours. So the exit is awaited, never the end of
// the pipes; what is still buffered in them is read for a short bounded time, then they are closed.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import {
  addError,
  emptyDigest,
  errorFromLogLine,
  foldEventLine,
  sessionIdFromBannerLine,
  type EventDigest,
} from './codex-events.js';
import { LineSplitter } from './line-splitter.js';
import { drainWithin } from './pipe-drain.js';
import { killGroup, stopGroup } from './process-group.js';
import { clampTimerMs } from './timer-bounds.js';

export interface CodexRunOptions {
  codexBin: string;
  /** Ends with `-`: Codex reads the prompt from stdin. */
  argv: string[];
  /** Written to Codex's stdin: no length limit (E2BIG), and not visible to other users in `ps`. */
  prompt: string;
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
  digest: EventDigest;
}

/** How long output still buffered in the pipes is read after Codex has exited. */
const PIPE_DRAIN_MS = 2_000;
/** Longest line parsed as an event; longer lines are kept in the run's files but not parsed. */
const MAX_LINE_BYTES = 1024 * 1024;

/** Runs Codex to its end (or until stopped) and returns how it ended with a digest of its events. */
export async function runCodex(opts: CodexRunOptions): Promise<CodexRunOutcome> {
  const digest = emptyDigest();
  let timedOut = false;
  let stalled = false;
  let waitingForNetwork: string | null = null;
  const outcome = (end: Pick<CodexRunOutcome, 'exitCode' | 'signal' | 'spawnError'>): CodexRunOutcome => ({
    ...end,
    timedOut,
    stalled,
    waitingForNetwork,
    stopped: opts.stop.aborted,
    cancelled: opts.cancel.aborted,
    digest,
  });

  let child: ChildProcess;
  try {
    child = spawn(opts.codexBin, opts.argv, { stdio: 'pipe', detached: true }); // own group: signal the tree
  } catch (err) {
    return outcome({ exitCode: null, signal: null, spawnError: (err as Error).message }); // E2BIG and kin throw
  }
  // Until it exits, 'error' means Codex could not be started (ENOENT, EACCES) or a signal was not sent.
  const failed = new Promise<Error>((resolve) => child.on('error', resolve));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  child.stdin?.on('error', () => {}); // EPIPE when Codex exits without reading it all: its exit tells
  child.stdin?.end(opts.prompt);

  let stallTimer: NodeJS.Timeout | null = null;
  let reportedSession: string | null = null;
  const reportSession = () => {
    if (digest.sessionId && digest.sessionId !== reportedSession) opts.onSessionId((reportedSession = digest.sessionId));
  };
  const outputs = [
    copyLines(child.stdout!, opts.eventsFile, digest, (line) => {
      const progress = digest.progress;
      foldEventLine(digest, line);
      if (digest.progress !== progress) stallTimer?.refresh();
      reportSession();
    }),
    copyLines(child.stderr!, opts.logFile, digest, (line) => {
      digest.sessionId ??= sessionIdFromBannerLine(line);
      reportSession();
      const error = errorFromLogLine(line);
      if (error) addError(digest, error);
    }),
  ];
  const pid = child.pid;
  if (pid === undefined) {
    const err = await failed;
    await Promise.all(outputs.map((o) => o.close()));
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
  killGroup(pid, 'SIGKILL'); // what is left of its group; a process that left the group is not reached
  child.stdin?.destroy();
  await drainWithin([child.stdout!, child.stderr!], PIPE_DRAIN_MS);
  await Promise.all(outputs.map((o) => o.close()));
  await stopping;
  return outcome({ exitCode: code, signal, spawnError: null });
}

interface CopiedOutput {
  /** Stops reading, parses a last unterminated line, and flushes the file. */
  close(): Promise<void>;
}

/**
 * Copies a pipe's bytes to `file` unchanged and hands each line of at most MAX_LINE_BYTES to `onLine`;
 * a longer line is in the file but not parsed (no event of Codex's comes near that size).
 * Backpressure: the file's pace sets the reading's.
 */
function copyLines(source: Readable, file: string, digest: EventDigest, onLine: (line: string) => void): CopiedOutput {
  const splitter = new LineSplitter(MAX_LINE_BYTES, onLine);
  const out: WriteStream = createWriteStream(file);
  out.on('error', (err) => addError(digest, `cannot write ${file}: ${err.message}`));
  source.pipe(out, { end: false });
  source.on('data', (chunk: Buffer) => splitter.push(chunk));
  source.on('error', () => {}); // a read error ends the copy; the exit code tells how the run went
  return {
    async close() {
      source.unpipe(out);
      source.destroy();
      splitter.end();
      if (!out.destroyed) await new Promise<void>((resolve) => out.end(resolve));
    },
  };
}

/** `codex --version`, or null if it cannot be run. */
export async function codexVersion(codexBin: string): Promise<string | null> {
  const result = await execa(codexBin, ['--version'], { stdin: 'ignore', reject: false, timeout: 15_000 });
  return result.exitCode === 0 ? String(result.stdout).trim() : null;
}

/**
 * Stops the process group of a Codex run whose worker died (Codex outlives it: it runs detached).
 * Only a live group leader with that pid is signalled, so a reused pid is left alone.
 */
export async function stopOrphanGroup(pid: number, graceMs: number): Promise<void> {
  if (!isGroupLeader(pid)) return;
  const exited = (async () => {
    while (isGroupLeader(pid)) await sleep(50);
  })();
  await stopCodexGroup(pid, graceMs, exited);
}

/** SIGINT, then SIGTERM, then SIGKILL to Codex's process group, each after `graceMs` if it has not exited. */
function stopCodexGroup(pid: number, graceMs: number, exited: Promise<void>): Promise<void> {
  return stopGroup(pid, ['SIGINT', 'SIGTERM', 'SIGKILL'], graceMs, exited);
}

/** A Codex run's process (the leader of its own group) is still alive: a reused pid of another process is not. */
export function isGroupLeader(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return state !== 'Z' && Number(pgrp) === pid;
  } catch {
    return false;
  }
}
