// Running one Codex process: stdio streamed to the run's files, a digest of its events kept as they
// arrive, its process group stopped the way Codex wants (SIGINT first: it kills the running tool
// command and keeps the session resumable; SIGTERM would orphan that command).
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
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

export interface CodexRunOptions {
  codexBin: string;
  argv: string[];
  eventsFile: string;
  logFile: string;
  /** Wall-clock limit; past it the run is stopped and reported as timed out. */
  timeoutMs?: number;
  /** Longest silence on stdout (no Codex event); past it the run is stopped as stalled (timed out). */
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
  /** Stopped through `stop`, not by its own doing. */
  stopped: boolean;
  cancelled: boolean;
  /** Set when Codex could not be started at all. */
  spawnError: string | null;
  digest: EventDigest;
}

/** How long the output pipes may stay open after Codex has exited. */
const PIPE_DRAIN_MS = 5_000;

/** Runs Codex to its end (or until stopped) and returns how it ended with a digest of its events. */
export async function runCodex(opts: CodexRunOptions): Promise<CodexRunOutcome> {
  const digest = emptyDigest();
  const child = execa(opts.codexBin, opts.argv, {
    stdin: 'ignore', // with a pipe, `codex exec` waits for more prompt on stdin
    stdout: ['pipe', { file: opts.eventsFile }],
    stderr: ['pipe', { file: opts.logFile }],
    detached: true, // its own process group, so the whole tree can be signalled
    buffer: false,
    reject: false,
    forceKillAfterDelay: false,
  });
  if (child.pid !== undefined) opts.onSpawn(child.pid);

  const reportSession = (id: string | null) => {
    if (id && id !== reportedSession) {
      reportedSession = id;
      opts.onSessionId(id);
    }
  };
  let reportedSession: string | null = null;
  const readers = [
    readLines(child.stdout, (line) => {
      stallTimer?.refresh();
      reportSession(foldEventLine(digest, line).sessionId);
    }),
    readLines(child.stderr, (line) => {
      const id = sessionIdFromBannerLine(line);
      if (id && !digest.sessionId) digest.sessionId = id;
      reportSession(digest.sessionId);
      const error = errorFromLogLine(line);
      if (error) addError(digest, error);
    }),
  ];

  let timedOut = false;
  let stalled = false;
  let stopping: Promise<void> | null = null;
  const exited = child.then(() => undefined);
  const stopNow = () => (stopping ??= stopProcessGroup(child.pid, opts.graceMs, exited));
  const limit = (ms: number | undefined, onLimit: () => void) =>
    ms === undefined ? null : setTimeout(() => (onLimit(), stopNow()), ms);
  const wallTimer = limit(opts.timeoutMs, () => (timedOut = true));
  const stallTimer = limit(opts.stallMs, () => (timedOut = stalled = true));
  const onAbort = () => void stopNow();
  for (const signal of [opts.stop, opts.cancel]) {
    signal.addEventListener('abort', onAbort);
    if (signal.aborted) onAbort();
  }

  // Codex gone but its stdout still open (a command it started holds it): end what is left of its
  // group at once, and stop reading after a moment whatever still holds the pipes from outside it.
  let settled = false;
  child.once('exit', () => {
    killGroup(child.pid, 'SIGKILL');
    setTimeout(() => {
      if (!settled) for (const stream of [child.stdout, child.stderr]) stream?.destroy();
    }, PIPE_DRAIN_MS).unref();
  });
  const result = await child;
  settled = true;
  for (const timer of [wallTimer, stallTimer]) if (timer) clearTimeout(timer);
  for (const signal of [opts.stop, opts.cancel]) signal.removeEventListener('abort', onAbort);
  await Promise.all(readers);
  await stopping;
  return {
    exitCode: result.exitCode ?? null,
    signal: result.signal ?? null,
    timedOut,
    stalled,
    stopped: opts.stop.aborted,
    cancelled: opts.cancel.aborted,
    spawnError: result.exitCode === undefined && result.signal === undefined ? (result.shortMessage ?? 'codex could not be started') : null,
    digest,
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
  await stopProcessGroup(pid, graceMs, exited);
}

function isGroupLeader(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return state !== 'Z' && Number(pgrp) === pid;
  } catch {
    return false;
  }
}

async function readLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): Promise<void> {
  if (!stream) return;
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  rl.on('line', onLine);
  await once(rl, 'close');
}

/** SIGINT, then SIGTERM, then SIGKILL to the process group, each after `graceMs` if it has not exited. */
async function stopProcessGroup(pid: number | undefined, graceMs: number, exited: Promise<void>): Promise<void> {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGKILL'] as const) {
    killGroup(pid, signal);
    const gone = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (gone) return;
  }
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}
