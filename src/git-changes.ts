// What a run changed in its repo, measured by git: the work tree's status before and after the run,
// compared path by path. Codex changes files with shell commands as often as with apply_patch, and only
// the latter shows in its events. A tree that was already dirty is handled: a dirty path counts only if its
// status or its file (size, mtime, ctime, inode) changed during the run.
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

/** A work tree as git saw it: its top directory, and a fingerprint per path that is not clean. */
export interface TreeState {
  top: string;
  dirty: Map<string, string>;
}

/** More dirty paths than this (an unignored build tree): not measured, the events' apply_patch paths stand. */
const MAX_DIRTY = 20_000;
/** Bound on what `git status` may print (MAX_DIRTY paths of a few hundred bytes). */
const MAX_STATUS_BYTES = 8 * 1024 * 1024;
const GIT_TIMEOUT_MS = 60_000;

/** `git status --porcelain=v1 -z --no-renames` → path (relative to the top) → its two status letters. */
export function parsePorcelainZ(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of text.split('\0')) {
    if (entry.length > 3 && entry[2] === ' ') out.set(entry.slice(3), entry.slice(0, 2));
  }
  return out;
}

/** Absolute paths whose fingerprint differs between the two states (dirty in one only, or changed), sorted. */
export function changedPaths(before: TreeState, after: TreeState): string[] {
  const paths = new Set([...before.dirty.keys(), ...after.dirty.keys()]);
  return [...paths]
    .filter((p) => before.dirty.get(p) !== after.dirty.get(p))
    .sort()
    .map((p) => join(after.top, p));
}

/**
 * The state of the work tree `dir` is in (`top`: its top directory, known from a first snapshot), or null
 * when it is not in one or git cannot tell (not installed, too many dirty paths): the caller falls back.
 */
export async function snapshotTree(dir: string, top?: string): Promise<TreeState | null> {
  // No optional locks: status must not take the index lock from under Codex's own git commands.
  const git = (args: string[]) =>
    execa('git', ['-C', dir, ...args], {
      env: { GIT_OPTIONAL_LOCKS: '0' },
      stdin: 'ignore',
      reject: false,
      timeout: GIT_TIMEOUT_MS,
      maxBuffer: MAX_STATUS_BYTES,
      stripFinalNewline: false,
    });
  try {
    if (top === undefined) {
      const r = await git(['rev-parse', '--show-toplevel']);
      if (r.exitCode !== 0) return null;
      top = String(r.stdout).trim();
    }
    const status = await git(['status', '--porcelain=v1', '-z', '--untracked-files=all', '--no-renames', '--ignore-submodules=dirty']);
    if (status.exitCode !== 0) return null;
    const letters = parsePorcelainZ(String(status.stdout));
    if (letters.size > MAX_DIRTY) return null;
    const dirty = new Map<string, string>();
    for (const [path, xy] of letters) dirty.set(path, `${xy} ${await fingerprint(join(top, path))}`);
    return { top, dirty };
  } catch {
    return null; // git missing, output over the bound, timed out
  }
}

/** What changes when a file is written, even to the same size within one clock tick: its ctime does. */
async function fingerprint(path: string): Promise<string> {
  const st = await lstat(path, { bigint: true }).catch(() => null);
  return st ? `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}` : 'gone';
}

/** The paths a run changed, from a snapshot taken before it; null if either snapshot failed. */
export async function changedSince(before: TreeState | null, dir: string): Promise<string[] | null> {
  if (!before) return null;
  const after = await snapshotTree(dir, before.top);
  return after ? changedPaths(before, after) : null;
}
