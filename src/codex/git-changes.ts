// What a run changed in its repo, measured by git: the work tree's status before and after the run,
// compared path by path. Codex changes files with shell commands as often as with apply_patch, and only
// the latter shows in its events. A tree that was already dirty is handled: a dirty path counts only if its
// status or its file (size, mtime, ctime, inode) changed during the run. What the run committed is clean
// afterwards: when HEAD moved, the paths between the two commits count too.
import { lstat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { execa } from 'execa';
import { setBounded } from '../util/bounded-map.js';

/** A work tree as git saw it: its top directory, its HEAD commit (null before the first), a fingerprint per path that is not clean. */
interface TreeState {
  top: string;
  head: string | null;
  dirty: Map<string, string>;
}

/** More dirty paths than this (an unignored build tree): not measured, the events' apply_patch paths stand. */
const MAX_DIRTY = 20_000;
/** Bound on what `git status` may print (MAX_DIRTY paths of a few hundred bytes). */
const MAX_STATUS_BYTES = 8 * 1024 * 1024;
const GIT_TIMEOUT_MS = 60_000;

/** Fields before the path in a `git status --porcelain=v2` entry of each kind (`1` changed, `u` unmerged, `?` untracked). */
const FIELDS_BEFORE_PATH: Record<string, number> = { '1': 8, u: 10, '?': 1 };

/**
 * `git status --porcelain=v2 --branch -z --no-renames` → HEAD (null before the first commit) and, per path
 * (relative to the top), its status: the entry's fields before the path (letters, modes, index hashes).
 */
export function parsePorcelainV2(text: string): { head: string | null; entries: Map<string, string> } {
  let head: string | null = null;
  const entries = new Map<string, string>();
  for (const entry of text.split('\0')) {
    if (entry.startsWith('# branch.oid ')) {
      const oid = entry.slice('# branch.oid '.length);
      head = oid === '(initial)' ? null : oid;
      continue;
    }
    const fields = FIELDS_BEFORE_PATH[entry[0] ?? ''];
    const parts = entry.split(' '); // the path, last, may hold spaces itself
    if (fields === undefined || parts.length <= fields) continue; // other headers; ignored files are not listed
    entries.set(parts.slice(fields).join(' '), parts.slice(0, fields).join(' '));
  }
  return { head, entries };
}

/**
 * Absolute paths whose fingerprint differs between the two states (dirty in one only, or changed), and
 * those `committed` (relative to the top) between their HEADs; sorted, each once.
 */
export function changedPaths(before: TreeState, after: TreeState, committed: readonly string[] = []): string[] {
  const paths = new Set([...before.dirty.keys(), ...after.dirty.keys()]);
  const changed = [...paths].filter((p) => before.dirty.get(p) !== after.dirty.get(p));
  return [...new Set([...changed, ...committed])].sort().map((p) => join(after.top, p));
}

/**
 * The top directory git gave for each directory and the `.git` nearest it: a job's repo is snapshotted before
 * every run, and a `git rev-parse` fork per job cost more than its answer changes (only with that `.git`).
 */
const tops = new Map<string, string>();
/** Directories remembered in `tops`: a worker that serves a new directory each job for months must not grow for ever. */
const MAX_TOPS = 1_000;

/**
 * The state of the work tree `dir` is in (`top`: its top directory, known from a first snapshot), or null
 * when it is not in one or git cannot tell (not installed, too many dirty paths): the caller falls back.
 */
export async function snapshotTree(dir: string, top?: string): Promise<TreeState | null> {
  try {
    let key: string | null = null;
    if (top === undefined) {
      const gitDir = await nearestGitDir(dir);
      if (gitDir === null) return null;
      // Under $GIT_DIR the environment says where the top is ($GIT_WORK_TREE): git is asked each time.
      key = process.env.GIT_DIR ? null : `${resolve(dir)}\0${gitDir}`;
      top = key === null ? undefined : tops.get(key);
    }
    // Both at once: each is a git process to wait for, on the path from a job's claim to Codex's start.
    const [topOut, status] = await Promise.all([
      top ?? git(dir, ['rev-parse', '--show-toplevel']),
      git(dir, ['status', '--porcelain=v2', '--branch', '-z', '--untracked-files=all', '--no-renames', '--ignore-submodules=dirty']),
    ]);
    if (topOut === null || status === null) return null;
    top = topOut.trim();
    if (key !== null) setBounded(tops, key, top, MAX_TOPS);
    const { head, entries } = parsePorcelainV2(status);
    if (entries.size > MAX_DIRTY) return null;
    const dirty = new Map<string, string>();
    for (const [path, fields] of entries) dirty.set(path, `${fields} ${await fingerprint(join(top, path))}`);
    return { top, head, dirty };
  } catch {
    return null; // git missing, output over the bound, timed out
  }
}

/**
 * Where git will look for the repo of `dir`: $GIT_DIR, else the nearest `.git` in it or above it; null when
 * there is none, and no git command can see a work tree at `dir`. Forking git is the worker's most expensive
 * system call (it copies the worker's page tables): a job outside git pays none.
 */
async function nearestGitDir(dir: string): Promise<string | null> {
  if (process.env.GIT_DIR) return process.env.GIT_DIR;
  for (let d = resolve(dir); ; d = dirname(d)) {
    const found = await lstat(join(d, '.git')).then(
      () => true,
      (err: NodeJS.ErrnoException) => err.code !== 'ENOENT' && err.code !== 'ENOTDIR', // unreadable: let git decide
    );
    if (found) return join(d, '.git');
    if (dirname(d) === d) return null;
  }
}

/** What changes when a file is written, even to the same size within one clock tick: its ctime does. */
async function fingerprint(path: string): Promise<string> {
  // Best effort: a path Codex made unreadable is fingerprinted as gone, not the whole list lost.
  const st = await lstat(path, { bigint: true }).catch(() => null);
  return st ? `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}` : 'gone';
}

/** The paths a run changed, from a snapshot taken before it; null if git could not tell. */
export async function changedSince(before: TreeState | null, dir: string): Promise<string[] | null> {
  if (!before) return null;
  const after = await snapshotTree(dir, before.top);
  if (!after) return null;
  if (after.head === before.head || after.head === null) return changedPaths(before, after);
  // The run committed (or moved HEAD): what lies between the two commits changed too.
  // Any failure (timed out, output over the bound) means git cannot tell, as for the snapshots.
  const between = before.head
    ? await git(dir, ['diff', '--name-only', '-z', '--no-renames', before.head, after.head]).catch(() => null)
    : await git(dir, ['ls-tree', '-r', '--name-only', '-z', after.head]).catch(() => null);
  if (between === null) return null;
  return changedPaths(before, after, between.split('\0').filter(Boolean));
}

/**
 * Stdout of a git command in `dir`, or null if it failed. No optional locks: status must not take the index
 * lock from under Codex's own git commands. Throws past the output bound or the time limit.
 */
async function git(dir: string, args: string[]): Promise<string | null> {
  // Never core.fsmonitor's command: status would run it, as the worker's user and outside Codex's sandbox,
  // from the config of whatever repo git finds (one a sandboxed Codex made above a work tree in /tmp, say).
  const r = await execa('git', ['-c', 'core.fsmonitor=false', '-C', dir, ...args], {
    env: { GIT_OPTIONAL_LOCKS: '0' },
    stdin: 'ignore',
    reject: false,
    timeout: GIT_TIMEOUT_MS,
    maxBuffer: MAX_STATUS_BYTES,
    stripFinalNewline: false,
  });
  if (r.failed && r.exitCode === undefined) throw new Error(r.message); // timed out, output over the bound
  return r.exitCode === 0 ? String(r.stdout) : null;
}
