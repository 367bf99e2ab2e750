// The --on-done callback: a shell command run after each job ends, told about the job in its environment.
// It never holds a job slot or a repo: it starts detached in a process group of its own and is not
// awaited; its output goes to the worker log, bounded; at its timeout its whole group is killed, with
// whatever it left running in the background (`sleep 140 & true`).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { LineSplitter } from '../util/line-splitter.js';
import { drainWithin } from '../util/pipe-drain.js';
import { groupGone, stopGroup } from '../util/process-group.js';
import { safeLine } from '../util/safe-text.js';

export interface JobEnd {
  id: string;
  /** Where the job ended: done, failed or rejected. */
  state: string;
  /** succeeded | failed | timed_out | cancelled, or rejected. */
  status: string;
  sessionId: string | null;
  summary: string | null;
  jobFile: string;
}

/** How long an on-done command and what it started may run. */
const ON_DONE_TIMEOUT_MS = 60_000;
/** Time SIGTERM gets before SIGKILL at the timeout. */
const KILL_GRACE_MS = 5_000;
/** Output logged per command; the rest is counted, not shown. */
const MAX_LOGGED_BYTES = 8 * 1024;
const MAX_LINE_BYTES = 1024;
/** How long output still in its pipes is read once the command and its group have ended. */
const PIPE_DRAIN_MS = 1_000;

/** The on-done commands under way, each with the means to end it early. */
const running = new Map<Promise<void>, AbortController>();

/**
 * Starts `command` with the job's facts in CODEX_SPOOL_* variables and returns at once: the job is not
 * held up by it. Its failure is logged, never thrown.
 */
export function runOnDone(command: string, end: JobEnd, log: (line: string) => void, timeoutMs = ON_DONE_TIMEOUT_MS): Promise<void> {
  const abort = new AbortController();
  const run = supervise(command, end, log, timeoutMs, abort.signal).catch((err: Error) => log(`on-done for ${end.id}: ${err.message}`));
  running.set(run, abort);
  void run.finally(() => running.delete(run));
  return Promise.resolve();
}

/** Resolves once every on-done command this process started has ended; each is bounded by its timeout. */
export async function onDoneSettled(): Promise<void> {
  await Promise.all(running.keys());
}

/** Ends every on-done command under way now, as at its timeout (the worker is stopping). */
export async function stopOnDone(): Promise<void> {
  for (const abort of running.values()) abort.abort();
  await onDoneSettled();
}

async function supervise(command: string, end: JobEnd, log: (line: string) => void, timeoutMs: number, stop: AbortSignal): Promise<void> {
  const tag = `on-done for ${end.id}`;
  const child: ChildProcess = spawn('/bin/sh', ['-c', command], {
    detached: true, // a group of its own: the timeout reaches everything it started
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      CODEX_SPOOL_JOB_ID: end.id,
      CODEX_SPOOL_STATE: end.state,
      CODEX_SPOOL_STATUS: end.status,
      CODEX_SPOOL_SESSION_ID: end.sessionId ?? '',
      CODEX_SPOOL_SUMMARY: end.summary ?? '',
      CODEX_SPOOL_JOB_FILE: end.jobFile,
    },
  });
  const failed = new Promise<Error>((resolve) => child.on('error', resolve));
  const streams = [child.stdout!, child.stderr!];
  const output = logOutput(streams, (line) => log(`${tag}: ${line}`));
  const pid = child.pid;
  if (pid === undefined) {
    output.close();
    log(`${tag} could not start: ${(await failed).message}`);
    return;
  }
  const exited = new Promise<string | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code === 0 ? null : signal ? `killed by ${signal}` : `exit ${code}`)),
  );
  // The shell's exit is not the end: what it left in its group runs on, until it ends or the timeout.
  const gone = exited.then(() => groupGone(pid));
  const timer = new AbortController();
  const cut = await Promise.race([
    gone.then(() => null),
    sleep(timeoutMs, `still running after ${timeoutMs} ms`, { signal: timer.signal }).catch(() => null), // aborted: it ended
    (stop.aborted ? Promise.resolve() : once(stop, 'abort')).then(() => 'still running as the worker stops'),
  ]);
  timer.abort();
  if (cut) {
    log(`${tag} ${cut}: stopping its process group`);
    await stopGroup(pid, ['SIGTERM', 'SIGKILL'], KILL_GRACE_MS, gone);
  }
  await drainWithin(streams, PIPE_DRAIN_MS); // whatever still holds its pipes (it left the group) is not waited for
  output.close();
  const failure = await exited;
  if (failure) log(`${tag} failed: ${failure}`);
}

/** Logs the lines of `streams` as they come, each made safe and cut, up to MAX_LOGGED_BYTES in all. */
function logOutput(streams: Readable[], logLine: (line: string) => void): { close(): void } {
  let budget = MAX_LOGGED_BYTES;
  let hidden = 0;
  const splitters = streams.map((stream) => {
    const splitter = new LineSplitter(
      MAX_LINE_BYTES,
      (line) => {
        const bytes = Buffer.byteLength(line) + 1;
        if (budget <= 0) return void (hidden += bytes);
        budget -= bytes;
        logLine(safeLine(line));
      },
      (bytes) => (hidden += bytes),
    );
    stream.on('data', (chunk: Buffer) => splitter.push(chunk));
    stream.on('error', () => {});
    return splitter;
  });
  return {
    close() {
      for (const s of splitters) s.end();
      for (const s of streams) s.destroy();
      if (hidden > 0) logLine(`(${hidden} more bytes of output not shown)`);
    },
  };
}
