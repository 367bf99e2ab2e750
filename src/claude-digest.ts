// The digest the Claude Code hook prints: which finished jobs a Claude session has not heard of yet, and one
// short line for each. Pure: the hook (claude-hook.ts) lists the spool and reads the files.
//
// "Heard of" is a high-water mark over the finished job files' ctimes (a rename into done/ sets the ctime,
// even when it keeps an old mtime) plus the ids seen within SLACK_MS below it: a job filed with a ctime a
// little behind one already told (two workers, a coarse clock) is still told, once.
import { formatDuration, oneLine } from './display.js';

/** The states a job is finished in. */
export const DIGEST_STATES = ['done', 'failed', 'rejected'] as const;
export type DigestState = (typeof DIGEST_STATES)[number];

/** A finished job file as listed: its id, state and ctime. Nothing of it read. */
export interface FinishedEntry {
  id: string;
  state: DigestState;
  ctimeMs: number;
}

/** What one Claude session has heard: <root>/spool/.claude-seen/<session>.json */
export interface SeenState {
  v: 1;
  /** Highest ctime of a finished job file seen. */
  hwm: number;
  /** Ids (and ctimes) of the files seen with a ctime within SLACK_MS of hwm. */
  recent: Record<string, number>;
  /** mtimes of the finished-state directories when they were last listed, and when that was. */
  dirs: Partial<Record<DigestState, number>>;
  listed_at: number;
}

/** How far below the high-water mark a file may still turn up late. */
export const SLACK_MS = 2000;
/** Lines in one digest; the rest are counted. */
export const MAX_LINES = 10;
/** Longest digest line, in UTF-8 bytes. */
export const MAX_LINE_BYTES = 400;
/** Characters of the final message in a line (fewer if the line would pass MAX_LINE_BYTES). */
export const MESSAGE_CHARS = 200;

/** Parses a seen-state file; null if it is missing or not one (then the session starts afresh). */
export function parseSeen(text: string | null): SeenState | null {
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as Partial<SeenState> | null;
    if (!v || v.v !== 1 || !Number.isFinite(v.hwm) || typeof v.recent !== 'object' || v.recent === null) return null;
    const recent = Object.fromEntries(Object.entries(v.recent).filter(([, t]) => Number.isFinite(t)));
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
export function unchangedSince(seen: SeenState | null, dirMtimes: Partial<Record<DigestState, number>>): boolean {
  if (!seen) return false;
  return DIGEST_STATES.every((s) => {
    const then = seen.dirs[s];
    const now = dirMtimes[s];
    if (now === undefined) return then === undefined;
    return then === now && now < seen.listed_at - SLACK_MS;
  });
}

/** On a session's first hook call, how far back a job it submitted itself is still told. */
export const FIRST_CONTACT_WINDOW_MS = 24 * 3600 * 1000;

/**
 * The entries this session has not heard of, and the state that records them as heard. With no state yet
 * (the session's first hook call, or the first since the spool was created) everything already there counts
 * as heard: a new session is told of jobs that finish from then on, not of the whole spool's past. Except
 * its own: `firstContact` entries are the jobs of the last FIRST_CONTACT_WINDOW_MS, of which the caller tells
 * only those the session submitted (see ownJobs).
 */
export function selectFresh(
  entries: readonly FinishedEntry[],
  seen: SeenState | null,
  dirMtimes: Partial<Record<DigestState, number>>,
  now: number,
): { fresh: FinishedEntry[]; next: SeenState; firstContact: boolean } {
  const fresh = seen
    ? entries.filter((e) => e.ctimeMs > seen.hwm - SLACK_MS && seen.recent[e.id] !== e.ctimeMs)
    : entries.filter((e) => e.ctimeMs > now - FIRST_CONTACT_WINDOW_MS);
  let hwm = seen ? seen.hwm : now;
  for (const e of entries) if (e.ctimeMs > hwm) hwm = e.ctimeMs;
  const recent: Record<string, number> = {};
  for (const e of entries) if (e.ctimeMs > hwm - SLACK_MS) recent[e.id] = e.ctimeMs;
  fresh.sort((a, b) => a.ctimeMs - b.ctimeMs || (a.id < b.id ? -1 : 1));
  return { fresh, next: { v: 1, hwm, recent, dirs: { ...dirMtimes }, listed_at: now }, firstContact: seen === null };
}

/** The jobs `claudeSession` submitted. */
export function ownJobs(jobs: readonly DigestJob[], claudeSession: string): DigestJob[] {
  return jobs.filter((j) => j.claude_session === claudeSession);
}

/** What a digest line says about one job, from its file (and, if rejected, its error file). */
export interface DigestJob {
  id: string;
  state: DigestState;
  status: string;
  exit_code: number | null;
  elapsed_seconds: number | null;
  session_id: string | null;
  /** The final message; else the error; for a rejected job its reason and message. */
  message: string | null;
  /** The Claude session that submitted the job, if it said. */
  claude_session: string | null;
}

/**
 * The digest facts of a finished job from its parsed file (`record`, null when it did not parse) and, for a
 * rejected job, its parsed error file. Never throws: a corrupt file still gives a line.
 */
export function digestJobOf(id: string, state: DigestState, record: unknown, rejection?: unknown): DigestJob {
  const rec = isObject(record) ? record : {};
  const r = isObject(rec.result) ? rec.result : {};
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const job: DigestJob = {
    id,
    state,
    status: str(r.status) ?? (state === 'done' ? 'succeeded' : state === 'failed' ? 'failed' : 'rejected'),
    exit_code: num(r.exit_code),
    elapsed_seconds: num(r.elapsed_seconds),
    session_id: str(r.session_id),
    message: str(r.final_message) ?? str(r.error),
    claude_session: str(rec.claude_session),
  };
  if (state === 'rejected') {
    const err = isObject(rejection) ? rejection : {};
    job.status = 'rejected';
    job.message = [str(err.reason), str(err.message)].filter(Boolean).join(': ') || null;
  } else if (!isObject(record)) {
    job.message = 'job file unreadable';
  }
  return job;
}

/**
 * One line, at most MAX_LINE_BYTES bytes:
 * `<id> <status> exit=<n> <elapsed> session=<codex session> "<final message…>" (codex-spool result <id>)`.
 */
export function digestLine(job: DigestJob): string {
  const head = `${job.id} ${job.status} exit=${job.exit_code ?? '-'} ${formatDuration(job.elapsed_seconds)} session=${job.session_id ?? '-'}`;
  const hint = `(codex-spool result ${job.id})`;
  const fixed = `${head} ${hint}`;
  const text = job.message ? oneLine(stripControls(job.message), MESSAGE_CHARS) : '';
  const budget = MAX_LINE_BYTES - bytes(fixed) - 3; // a space and two quotes
  if (!text || budget < 8) return cutBytes(fixed, MAX_LINE_BYTES);
  return `${head} "${cutBytes(text, budget)}" ${hint}`;
}

/**
 * The additionalContext for the jobs not yet heard of, those submitted from `claudeSession` first; null when
 * there are none. `more` counts fresh jobs not among `jobs` (not read).
 */
export function buildDigest(jobs: readonly DigestJob[], claudeSession: string | null, more = 0): string | null {
  if (jobs.length === 0 && more === 0) return null;
  const mine = jobs.filter((j) => claudeSession !== null && j.claude_session === claudeSession);
  const others = jobs.filter((j) => !mine.includes(j));
  const shownMine = mine.slice(0, MAX_LINES);
  const shownOthers = others.slice(0, MAX_LINES - shownMine.length);
  const left = jobs.length - shownMine.length - shownOthers.length + more;
  const total = jobs.length + more;
  const lines = [`codex-spool: ${total} Codex job${total === 1 ? '' : 's'} finished since you last heard.`];
  if (shownMine.length) lines.push('Submitted from this session:', ...shownMine.map(digestLine));
  if (shownOthers.length) lines.push(shownMine.length ? 'Other jobs:' : 'Jobs:', ...shownOthers.map(digestLine));
  if (left > 0) lines.push(`+${left} more: codex-spool status`);
  return lines.join('\n');
}

/** The JSON a hook prints to add `context` for the model. */
export function hookOutput(event: string, context: string): string {
  return `${JSON.stringify({ hookSpecificOutput: { hookEventName: event, additionalContext: context } })}\n`;
}

/** A name safe to use as the session's state file name (the session id itself when it is one). */
export function sessionFileStem(session: string): string | null {
  return /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/.test(session) ? session : null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** Text without control characters (terminal escapes, NULs) that a model or a terminal should not get. */
function stripControls(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, ' ');
}

/** `s` cut to at most `max` UTF-8 bytes on a character boundary, `…` marking a cut. */
function cutBytes(s: string, max: number): string {
  if (bytes(s) <= max) return s;
  let out = '';
  let used = 0;
  for (const ch of s) {
    const n = bytes(ch);
    if (used + n > max - 3) break;
    out += ch;
    used += n;
  }
  return `${out}…`;
}
