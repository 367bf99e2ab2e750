// Where everything lives under a codex-spool root. The directory a job file is in *is* its state.
import { lstat, mkdir, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { packageFile } from '../util/package-files.js';
import { quoted, shellWord } from '../util/display.js';
import { safeLine } from '../util/safe-text.js';
import { isJobId } from './ids.js';
import { JOB_STATES, type JobState } from './states.js';

export { FINISHED_STATES, JOB_STATES, LIVE_STATES, isFinished, type FinishedState, type JobState } from './states.js';
import { ifMissing } from '../util/errors.js';

export interface SpoolLayout {
  root: string;
  /** <root>/spool: the state directories and the worker's other files. */
  spool: string;
  runs: string;
  /** Directory of a state, e.g. <root>/spool/inbox. */
  dir(state: JobState): string;
  /** Path of a job file in a state, e.g. <root>/spool/done/<id>.json. */
  job(state: JobState, id: string): string;
  /** The file whose presence asks the worker running job `id` to cancel it: active/<id>.cancel. */
  cancelRequest(id: string): string;
  /** Why the job kept as rejected/<stem>.json was rejected: rejected/<stem>.error.json. */
  rejection(stem: string): string;
  /** spool/workers/: one heartbeat file per live worker. */
  workers: string;
  /** spool/worktrees/: one git worktree per job that asked for its own (see worktreeOf). */
  worktrees: string;
  /** spool/finished.log: the mtimes of finished job files, a cache that spares status an lstat each (finished-log.ts). */
  finishedLog: string;
  /** spool/listing.cache: the finished states' listings, kept while their directories are unchanged (read/listing-cache.ts). */
  listingCache: string;
  /** spool/.codex-spool-claude/: the Claude Code hook's state and submit's claims (claude/state.ts). */
  claudeState: string;
}

/** Where the root came from: the --root option, $CODEX_SPOOL_ROOT, or the installed package's own directory. */
type RootSource = '--root' | '$CODEX_SPOOL_ROOT' | 'package';

/**
 * The one rule every part (worker, CLI, Claude hook) finds its spool by: --root, else $CODEX_SPOOL_ROOT,
 * else the directory of this installed package (the clone or package holding dist/cli.js) — never the
 * current directory, so that a command run from a user's repo reaches the worker's spool.
 */
export function resolveRootWithSource(root?: string, env: NodeJS.ProcessEnv = process.env): { root: string; source: RootSource } {
  if (root) return { root: resolve(root), source: '--root' };
  if (env.CODEX_SPOOL_ROOT) return { root: resolve(env.CODEX_SPOOL_ROOT), source: '$CODEX_SPOOL_ROOT' };
  return { root: resolve(packageFile('')), source: 'package' };
}

/** The root (see resolveRootWithSource). */
export function resolveRoot(root?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolveRootWithSource(root, env).root;
}

/**
 * ` --root ROOT` for a command line printed as a hint that must reach `root`, or '' when a command without
 * --root reaches it anyway (the default root: $CODEX_SPOOL_ROOT, else the package's directory).
 */
export function rootFlag(root: string): string {
  return resolveRoot() === root ? '' : ` --root ${safeLine(shellWord(root))}`;
}

/** The root holds a spool (its inbox is a directory): only a worker creates one. */
export async function hasSpool(layout: SpoolLayout): Promise<boolean> {
  return (await stat(layout.dir('inbox')).catch(ifMissing(null)))?.isDirectory() ?? false;
}

/** The layout of a root (pure: creates nothing). */
export function spoolLayout(root: string): SpoolLayout {
  const abs = resolve(root);
  const spool = join(abs, 'spool');
  const dir = (state: JobState) => join(spool, state);
  return {
    root: abs,
    spool,
    runs: join(abs, 'runs'),
    dir,
    job: (state, id) => join(dir(state), `${id}.json`),
    cancelRequest: (id) => join(dir('active'), `${id}${CANCEL_SUFFIX}`),
    rejection: (stem) => join(dir('rejected'), `${stem}${REJECTION_SUFFIX}`),
    workers: join(spool, 'workers'),
    worktrees: join(spool, 'worktrees'),
    claudeState: join(spool, '.codex-spool-claude'),
    finishedLog: join(spool, 'finished.log'),
    listingCache: join(spool, 'listing.cache'),
  };
}

const REJECTION_SUFFIX = '.error.json';

/** A name in rejected/ that is an error file (`<stem>.error.json`), whichever job it belongs to. */
export function isRejectionName(name: string): boolean {
  return name.endsWith(REJECTION_SUFFIX);
}

/** rejected/<stem>.error.json beside rejected/<stem>.json (among `names`): the reason of a rejected job, not a job. */
export function isRejectionOf(name: string, names: ReadonlySet<string>): boolean {
  return isRejectionName(name) && names.has(`${name.slice(0, -REJECTION_SUFFIX.length)}.json`);
}

/** Creates whatever directory of the layout is missing, private to the user (see unsafeSpoolDirs). */
export async function ensureSpool(layout: SpoolLayout): Promise<void> {
  const dirs = [...JOB_STATES.map((s) => layout.dir(s)), layout.runs];
  await Promise.all(dirs.map((d) => mkdir(d, { recursive: true, mode: 0o700 })));
}

/** Why a file or directory with these stats is not safe to trust (another owner, writable by others), or null. */
export function unsafeOwnership(st: { uid: number; mode: number }, us = "the worker's user"): string | null {
  if (st.uid !== process.getuid?.()) return `owned by uid ${st.uid}, not ${us}`;
  return st.mode & 0o022 ? 'group- or world-writable' : null;
}

/**
 * Spool directories that others could write into (group/world-writable, or owned by another user):
 * whoever can write the inbox can make Codex run commands as the worker's user.
 */
export async function unsafeSpoolDirs(layout: SpoolLayout): Promise<string[]> {
  // The root too: whoever can write it can swap spool/ or runs/ for their own.
  const dirs = [layout.root, layout.spool, ...JOB_STATES.map((s) => layout.dir(s)), layout.runs];
  const problems: string[] = [];
  for (const dir of dirs) {
    // A link would put the queue where its owner did not choose (e.g. inside a job's repo): refused.
    if ((await lstat(dir).catch(ifMissing(null)))?.isSymbolicLink() && dir !== layout.root) {
      problems.push(`${dir} is a symbolic link`);
      continue;
    }
    const st = await stat(dir).catch(ifMissing(null));
    if (!st) continue;
    const problem = unsafeOwnership(st);
    if (problem) problems.push(`${dir} is ${problem}`);
  }
  return problems;
}

/** A job file name in the inbox: `<stem>.json`, not a dotfile (writers publish `.x.json.tmp` by rename). */
export function isJobFileName(name: string): boolean {
  return name.endsWith('.json') && !name.startsWith('.') && name.length > '.json'.length;
}

/** The job id of a cancel request's file name (`<id>.cancel`, see SpoolLayout.cancelRequest), or null. */
export function cancelRequestIdOf(name: string): string | null {
  return name.endsWith(CANCEL_SUFFIX) && !name.startsWith('.') ? name.slice(0, -CANCEL_SUFFIX.length) : null;
}
const CANCEL_SUFFIX = '.cancel';

/** The job id of a job file name. */
export function jobIdOf(name: string): string {
  return name.slice(0, -'.json'.length);
}

/** `inner` is `outer` or lies inside it (absolute paths, compared as written; pure). */
export function isWithin(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** A job's git worktree and its branch. */
export interface Worktree {
  path: string;
  branch: string;
}

/**
 * Where job `id`'s worktree lives and what its branch is called (pure). Here, not in codex/worktree.ts: the
 * checks that submit shares with the worker need the path, and codex/worktree.ts loads execa.
 */
export function worktreeOf(layout: SpoolLayout, id: string): Worktree {
  return { path: join(layout.worktrees, id), branch: `codex-spool/${id}` };
}

/**
 * The worktree a finished job's result names, as this spool's own: the one of the job id its path ends in
 * (pure). A result's path is never taken as it is: a planted finished file (another user of a shared spool)
 * could name any directory, even the root, for a follow-up's Codex to work in. Null if it names no job id.
 */
export function recordedWorktree(layout: SpoolLayout, recordedPath: string): Worktree | null {
  const id = basename(recordedPath);
  return isJobId(id) ? worktreeOf(layout, id) : null;
}

/**
 * Why job `id`'s worktree must not be used (Codex works there, writing as the worker's user), or null when it
 * is safe; 'missing' when there is none. spool/worktrees/ and the worktree are directories, not links, and the
 * worker user's own; spool/worktrees/ is writable by no one else (whatever --allow-shared-spool says), so that
 * nobody can swap a worktree for a link to another directory (the root, a home) after this look.
 */
export async function worktreeProblem(layout: SpoolLayout, id: string): Promise<string | null> {
  for (const [dir, parent] of [
    [layout.worktrees, true],
    [worktreeOf(layout, id).path, false],
  ] as const) {
    const st = await lstat(dir).catch(ifMissing(null));
    if (!st) return 'missing';
    if (!st.isDirectory()) return `${dir} is not a directory${st.isSymbolicLink() ? ' (a symbolic link)' : ''}`;
    const problem = parent ? unsafeOwnership(st) : st.uid !== process.getuid?.() ? `owned by uid ${st.uid}` : null;
    if (problem) return `${dir} is ${problem}`;
  }
  return null;
}

/** A name from the spool as shown to people: a valid job id as it is, anything else quoted (see quoted). */
export function shownName(name: string): string {
  return isJobId(name) ? name : quoted(name);
}
