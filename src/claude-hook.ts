// `codex-spool claude hook`: the Claude Code SessionStart / UserPromptSubmit hook. Tells a Claude session, once,
// of each job that finished since it last heard. Runs before every prompt, so it is fast and it never fails:
// whatever goes wrong, it prints nothing (or what it has) and the caller exits 0.
//
// Cost: stat of the three finished-state directories and one small state file when nothing was filed since
// the last call; otherwise one directory listing with an lstat per finished job, and reading only the job
// files not heard of yet.
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  DIGEST_STATES,
  buildDigest,
  digestJobOf,
  hookOutput,
  ownJobs,
  parseSeen,
  selectFresh,
  sessionFileStem,
  unchangedSince,
  type DigestJob,
  type DigestState,
  type FinishedEntry,
} from './claude-digest.js';
import { isJobFileName, jobIdOf, spoolLayout } from './spool-layout.js';

/** The events the hook adds context on. */
const CONTEXT_EVENTS = new Set(['SessionStart', 'UserPromptSubmit']);
/** Job files read per call at most (the newest); older fresh ones are only counted. */
const MAX_READ = 200;
/** Largest job file read. */
const MAX_FILE_BYTES = 256 * 1024;
/** Largest state file read: its `recent` ids can run to thousands after a burst of jobs. */
const MAX_STATE_BYTES = 64 * 1024 * 1024;
/** A session's state is forgotten when it has not been written for this long (30 days). */
const SEEN_TTL_MS = 30 * 24 * 3600_000;
/** A state lock older than this is left over from a killed hook. */
const STALE_LOCK_MS = 10_000;

/** The hook's stdin, as far as we use it. */
export interface HookInput {
  session_id?: string;
  hook_event_name?: string;
  cwd?: string;
}

/**
 * The spool root: --root, else $CODEX_SPOOL_ROOT, else $CLAUDE_PROJECT_DIR (the project Claude was started
 * in, the directory a Bash command starts in), else the hook's `cwd`, else the current directory.
 */
export function hookRoot(input: HookInput, root?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(root ?? env.CODEX_SPOOL_ROOT ?? env.CLAUDE_PROJECT_DIR ?? input.cwd ?? process.cwd());
}

/** The hook's output for `input` (empty string: print nothing). Never throws. */
export function runHook(input: HookInput, root?: string, now = Date.now()): string {
  try {
    const event = input.hook_event_name;
    const session = input.session_id ?? process.env.CLAUDE_CODE_SESSION_ID;
    if (!event || !CONTEXT_EVENTS.has(event) || !session) return '';
    const stem = sessionFileStem(session);
    if (!stem) return '';
    const layout = spoolLayout(hookRoot(input, root));
    const spool = join(layout.root, 'spool');
    if (!statSync(spool, { throwIfNoEntry: false })?.isDirectory()) return '';
    const seenDir = join(spool, '.claude-seen');
    mkdirSync(seenDir, { recursive: true });
    const lock = join(seenDir, `${stem}.lock`);
    if (!takeLock(lock)) return '';
    try {
      const context = digestFor(layout.dir, join(seenDir, `${stem}.json`), layout.dir('rejected'), session, now);
      return context ? hookOutput(event, context) : '';
    } finally {
      try {
        rmdirSync(lock);
      } catch {
        /* taken over as stale: not ours to remove any more */
      }
    }
  } catch {
    return '';
  }
}

function digestFor(dir: (s: DigestState) => string, statePath: string, rejectedDir: string, session: string, now: number): string | null {
  const seen = parseSeen(readText(statePath, MAX_STATE_BYTES));
  const dirMtimes: Partial<Record<DigestState, number>> = {};
  for (const s of DIGEST_STATES) {
    const st = statSync(dir(s), { throwIfNoEntry: false });
    if (st?.isDirectory()) dirMtimes[s] = st.mtimeMs;
  }
  if (unchangedSince(seen, dirMtimes)) return null;

  const { fresh, next, firstContact } = selectFresh(listFinished(dir), seen, dirMtimes, now);
  const toRead = fresh.slice(-MAX_READ);
  const jobs: DigestJob[] = toRead.map((e) => readJob(dir, rejectedDir, e));
  writeFileAtomicSync(statePath, `${JSON.stringify(next)}\n`);
  // First contact: only the session's own recent jobs (the spool may not have existed when it submitted).
  if (firstContact) {
    pruneSeen(dirname(statePath), now);
    return buildDigest(ownJobs(jobs, session), session);
  }
  return buildDigest(jobs, session, fresh.length - toRead.length);
}

/**
 * Forgets sessions not heard from in SEEN_TTL_MS, and temp files a killed hook left. Run on a session's first
 * call only: one listing of a directory of small files, once per Claude session.
 */
export function pruneSeen(seenDir: string, now = Date.now()): void {
  for (const name of readdirSync(seenDir)) {
    const ttl = name.endsWith('.tmp') ? 3600_000 : name.endsWith('.json') ? SEEN_TTL_MS : null;
    if (ttl === null) continue;
    const path = join(seenDir, name);
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (st?.isFile() && now - st.mtimeMs > ttl) rmSync(path, { force: true });
  }
}

/** Every finished job file: its id, state and ctime, from directory listings and lstat alone. */
export function listFinished(dir: (s: DigestState) => string): FinishedEntry[] {
  const byId = new Map<string, FinishedEntry>();
  for (const state of DIGEST_STATES) {
    let names: string[];
    try {
      names = readdirSync(dir(state));
    } catch {
      continue;
    }
    const present = state === 'rejected' ? new Set(names) : null;
    for (const name of names) {
      if (!isJobFileName(name)) continue;
      // rejected/<stem>.error.json is the reason beside rejected/<stem>.json, not a job.
      if (present && name.endsWith('.error.json') && present.has(`${name.slice(0, -'.error.json'.length)}.json`)) continue;
      const st = lstatSync(join(dir(state), name), { throwIfNoEntry: false });
      if (!st) continue;
      const id = jobIdOf(name);
      // The same id in two states (moved while listed, or retried): the latest filing counts.
      const prev = byId.get(id);
      if (!prev || st.ctimeMs > prev.ctimeMs) byId.set(id, { id, state, ctimeMs: st.ctimeMs });
    }
  }
  return [...byId.values()];
}

function readJob(dir: (s: DigestState) => string, rejectedDir: string, e: FinishedEntry): DigestJob {
  const record = parseJson(readText(join(dir(e.state), `${e.id}.json`)));
  const rejection = e.state === 'rejected' ? parseJson(readText(join(rejectedDir, `${e.id}.error.json`))) : undefined;
  return digestJobOf(e.id, e.state, record, rejection);
}

/** A regular file's text if it is small enough; null otherwise (never opens a FIFO or follows a symlink). */
function readText(path: string, maxBytes = MAX_FILE_BYTES): string | null {
  try {
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st?.isFile() || st.size > maxBytes) return null;
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** One hook per session at a time: SessionStart and UserPromptSubmit may overlap. Waits up to 2 s. */
function takeLock(path: string): boolean {
  const until = Date.now() + 2000;
  for (;;) {
    try {
      mkdirSync(path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return false;
    }
    const st = statSync(path, { throwIfNoEntry: false });
    if (st && Date.now() - st.mtimeMs > STALE_LOCK_MS) {
      try {
        rmdirSync(path);
      } catch {
        /* someone else took it over */
      }
      continue;
    }
    if (Date.now() > until) return false;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
  }
}

/** Writes `path` atomically: a reader sees the old state or the new one, never half of one. */
function writeFileAtomicSync(path: string, data: string): void {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, data, { mode: 0o644 });
  renameSync(tmp, path);
}

/** Reads the hook's JSON from stdin; {} if it is not JSON or does not come within `ms`. */
export async function readHookInput(stdin: NodeJS.ReadableStream = process.stdin, ms = 2000): Promise<HookInput> {
  if ((stdin as NodeJS.ReadStream).isTTY) return {};
  const text = await new Promise<string>((done) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = () => {
      clearTimeout(timer);
      stdin.removeAllListeners('data');
      stdin.pause();
      done(Buffer.concat(chunks).toString('utf8'));
    };
    const timer = setTimeout(finish, ms);
    stdin.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 1024 * 1024) chunks.push(c);
    });
    stdin.on('end', finish);
    stdin.on('error', finish);
  });
  const value = parseJson(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  const v = value as Record<string, unknown>;
  const str = (x: unknown) => (typeof x === 'string' && x ? x : undefined);
  return { session_id: str(v.session_id), hook_event_name: str(v.hook_event_name), cwd: str(v.cwd) };
}
