// What a Claude session has heard (spool/.codex-spool-claude/seen/<session>.json) and the Claude hook's
// front: its input, and whether anything can be new. The hook runs before every prompt and nearly always
// has nothing to tell, so this module loads nothing heavy (no zod, no digest): when the finished-state
// directories are as the session last saw them, a few stats answer, and claude/hook.ts is never loaded.
import { closeSync, constants, fstatSync, futimesSync, lstatSync, openSync, read, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { resolveRoot, spoolLayout, type SpoolLayout } from '../spool/layout.js';
import { FINISHED_STATES, type FinishedState } from '../spool/states.js';
import { isJobId } from '../spool/ids.js';
import { readSmallFileSync } from '../spool/atomic-file.js';
import { parseJsonOrNull } from '../util/json-text.js';
import { objectOr, str } from '../util/json-value.js';

/** What one Claude session has heard: seen/<session>.json in claude/state.ts's directory. */
export interface SeenState {
  v: 1;
  /** Highest ctime of a finished job file seen. */
  hwm: number;
  /** Ids (and ctimes) of the files seen with a ctime within SLACK_MS of hwm. */
  recent: Record<string, number>;
  /** mtimes of the finished-state directories when they were last listed, and when that was. */
  dirs: Partial<Record<FinishedState, number>>;
  listed_at: number;
}

/** How far below the high-water mark a file may still turn up late. */
export const SLACK_MS = 2000;

/** Parses a seen-state file; null if it is missing or not one (then the session starts afresh). */
export function parseSeen(text: string | null): SeenState | null {
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as Partial<SeenState> | null;
    if (v?.v !== 1 || !Number.isFinite(v.hwm) || typeof v.recent !== 'object' || v.recent === null) return null;
    const recent = Object.assign(idMap(), Object.fromEntries(Object.entries(v.recent).filter(([, t]) => Number.isFinite(t))));
    const dirs = typeof v.dirs === 'object' && v.dirs !== null ? v.dirs : {};
    return { v: 1, hwm: v.hwm!, recent, dirs, listed_at: Number.isFinite(v.listed_at) ? v.listed_at! : 0 };
  } catch {
    return null;
  }
}

/**
 * True when the finished-state directories are as they were when last listed, so no job can have been
 * filed since: each mtime is unchanged and was already SLACK_MS old when listed (a file added in the same
 * clock tick as that listing could leave the directory's mtime as it was).
 */
export function unchangedSince(seen: SeenState | null, dirMtimes: Partial<Record<FinishedState, number>>): boolean {
  if (!seen) return false;
  return FINISHED_STATES.every((s) => {
    const then = seen.dirs[s];
    const now = dirMtimes[s];
    if (now === undefined) return then === undefined;
    return then === now && now < seen.listed_at - SLACK_MS;
  });
}

/**
 * The mtime the session's stamp should have (see stampAs), or null for none: when every finished-state
 * directory as listed was older than the listing's time minus SLACK_MS (unchangedSince's condition, so the
 * shell answers only where this module would from its stats), the newest of their mtimes (in whole ms, up),
 * else null. Their mtimes, not the listing's time: those are the file server's clock, which a later filing
 * stamps too, while the listing's time is this host's, which may run ahead of a server on another host
 * (README: several machines) and then hide a job filed just after the listing. A change after the listing
 * leaves its directory newer than the stamp by SLACK_MS less a clock tick (more than a whole second) when
 * the clocks agree, and newer in any case but a change in the very tick of the newest mtime, which
 * unchangedSince does not see either.
 */
export function stampTime(seen: SeenState | null): number | null {
  if (!seen) return null;
  const t = seen.listed_at - SLACK_MS;
  const mtimes = FINISHED_STATES.flatMap((s) => (seen.dirs[s] === undefined ? [] : [seen.dirs[s]]));
  if (!mtimes.every((m) => m < t)) return null;
  return mtimes.length > 0 ? Math.ceil(Math.max(...mtimes)) : t; // none then: one made later is newer than the listing
}

/**
 * Keeps the session's stamp as `seen` says: dist/codex-spool-hook (src/claude/codex-spool-hook.sh) answers
 * "nothing new" without starting Node while no finished-state directory is newer than it. Called once the
 * hook has answered from `seen`. Opened with O_NOFOLLOW (a link there is not followed; the open fails) and
 * O_NONBLOCK (a FIFO there does not hang the hook). Best effort, never throws: with no stamp Node answers,
 * and a stamp left from an earlier answer is older than every change since, so it never hides one.
 */
export function stampAs(path: string, seen: SeenState | null): void {
  try {
    const t = stampTime(seen);
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (t === null) {
      if (st) rmSync(path, { force: true });
      return;
    }
    if (st?.isFile() && Math.round(st.mtimeMs) === t) return; // as it should be: no write on every prompt
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o600);
    try {
      futimesSync(fd, t / 1000, t / 1000);
    } finally {
      closeSync(fd);
    }
  } catch {
    // see above: the hook's answer stands either way
  }
}

/** A map of job ids (any text, `__proto__` included) to ctimes, as a plain JSON object without a prototype. */
export function idMap(): Record<string, number> {
  return Object.create(null) as Record<string, number>;
}

export function seenDir(root: string): string {
  return join(spoolLayout(root).claudeState, 'seen');
}

/** A session id fit to be a file name (the session id itself when it is one), else null. */
export function sessionFileStem(session: string): string | null {
  return isJobId(session) ? session : null; // the job id's rule: one name, never a path
}

/** The events the hook adds context on. */
const CONTEXT_EVENTS = new Set(['SessionStart', 'UserPromptSubmit']);
/** Largest state file read: its `recent` ids can run to thousands after a burst of jobs. */
export const MAX_STATE_BYTES = 64 * 1024 * 1024;

/** The hook's stdin, as far as we use it. */
export interface HookInput {
  session_id?: string;
  hook_event_name?: string;
}

/** What a hook call is about: the event, the session's file stem and state file, the spool. */
export interface HookTarget {
  event: string;
  stem: string;
  layout: SpoolLayout;
  statePath: string;
  /** The stamp that spares the shell hook starting Node (stampAs). */
  stampPath: string;
}

/** The target of a hook call, or null when it has nothing to do (another event, no session, no spool). */
export function hookTarget(input: HookInput, root?: string): HookTarget | null {
  const event = input.hook_event_name;
  const session = input.session_id ?? process.env.CLAUDE_CODE_SESSION_ID;
  if (!event || !CONTEXT_EVENTS.has(event) || !session) return null;
  const stem = sessionFileStem(session);
  if (!stem) return null;
  const layout = spoolLayout(resolveRoot(root)); // as every command finds it, never Claude's project or cwd
  if (!statSync(layout.spool, { throwIfNoEntry: false })?.isDirectory()) return null;
  const seen = seenDir(layout.root);
  return { event, stem, layout, statePath: join(seen, `${stem}.json`), stampPath: join(seen, `${stem}.stamp`) };
}

/** mtimes of the finished-state directories that exist. */
export function finishedDirMtimes(layout: SpoolLayout): Partial<Record<FinishedState, number>> {
  const out: Partial<Record<FinishedState, number>> = {};
  for (const s of FINISHED_STATES) {
    const st = statSync(layout.dir(s), { throwIfNoEntry: false });
    if (st?.isDirectory()) out[s] = st.mtimeMs;
  }
  return out;
}

/** The session's state, or null (none yet, or not one). */
export function readSeen(statePath: string): SeenState | null {
  return parseSeen(readSmallFileSync(statePath, MAX_STATE_BYTES));
}

/** The Claude hook as a command: reads the event on stdin, returns what to print (the digest, or ''). Never throws. */
export async function hookOutputFor(root?: string): Promise<string> {
  try {
    const input = await readHookInput();
    const target = hookTarget(input, root);
    if (!target) return '';
    const seen = readSeen(target.statePath);
    if (!unchangedSince(seen, finishedDirMtimes(target.layout))) return (await import('./hook.js')).runHook(input, root);
    stampAs(target.stampPath, seen);
    return '';
  } catch {
    return ''; // never fail a prompt: say nothing
  }
}

/** Reads the hook's JSON from stdin; {} if it is not JSON or does not come within `ms`. */
export async function readHookInput(ms = 2000): Promise<HookInput> {
  // A terminal (or /dev/null) has no event to give; node:tty's isatty would load the socket modules.
  const text = fstatSync(0).isCharacterDevice() ? '' : await readStdin(ms);
  const v = objectOr(parseJsonOrNull(text)) ?? {};
  return { session_id: str(v.session_id) || undefined, hook_event_name: str(v.hook_event_name) || undefined };
}

/**
 * Stdin's text: up to its end, its first MiB, or `ms`, whichever comes first. Read with fs.read on fd 0, not
 * through process.stdin: that stream loads the socket and stream modules, a good part of the hook's start.
 * A non-blocking stdin (EAGAIN: no data yet) is read through the stream after all.
 */
function readStdin(ms: number): Promise<string> {
  return new Promise((done) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const keep = (c: Buffer) => {
      size += c.length;
      if (size <= 1024 * 1024) chunks.push(c);
    };
    const finish = () => {
      clearTimeout(timer);
      done(Buffer.concat(chunks).toString('utf8'));
    };
    const timer = setTimeout(finish, ms);
    const next = () =>
      read(0, Buffer.allocUnsafe(65536), 0, 65536, null, (err, n, buf) => {
        if (err?.code === 'EAGAIN') process.stdin.on('data', keep).on('end', finish).on('error', finish);
        else if (err || n === 0) finish();
        else keep(buf.subarray(0, n)), next();
      });
    next();
  });
}
