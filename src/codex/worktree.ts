// Worktree jobs: each gets its own git worktree and branch, owned by the queue and kept for review,
// so it can run beside other jobs on the same repo without sharing a working tree.
import { lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { execa } from 'execa';
import { worktreeOf, worktreeProblem, type SpoolLayout, type Worktree } from '../spool/layout.js';
import { ifMissing } from '../util/errors.js';

export type { Worktree } from '../spool/layout.js';

/** The job worktree a run's working directory is, or undefined: what a recovered run's result names (pure). */
export function worktreeAt(layout: SpoolLayout, dir: string): Worktree | undefined {
  const wt = worktreeOf(layout, basename(dir));
  return wt.path === dir ? wt : undefined;
}

/**
 * Creates job `id`'s worktree from the repo's HEAD, or reuses it when a retried or resumed run finds it there;
 * for a job that `ranBefore`, one whose directory was removed by hand is made again on the branch it left,
 * with the commits on it (a new job never takes over a branch of that name: git refuses, and says so).
 */
export async function ensureWorktree(layout: SpoolLayout, repo: string, id: string, ranBefore: boolean): Promise<Worktree> {
  const wt = worktreeOf(layout, id);
  // Private from the start (git would make it with the umask's mode): see worktreeProblem.
  await mkdir(layout.worktrees, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  const problem = await worktreeProblem(layout, id);
  if (problem === null) return wt;
  if (problem !== 'missing') throw new Error(`refusing the worktree: ${problem}`);
  const kept = ranBefore && (await git(repo, ['rev-parse', '--verify', '--quiet', `refs/heads/${wt.branch}`])).ok;
  if (kept) await git(repo, ['worktree', 'remove', '--force', wt.path]); // git's entry for the gone directory, if it has one
  const added = await git(repo, kept ? ['worktree', 'add', wt.path, wt.branch] : ['worktree', 'add', '-b', wt.branch, wt.path, 'HEAD']);
  if (!added.ok) throw new Error(`git worktree add failed: ${added.err}`);
  return wt;
}

/** A job's worktree as git sees it now. */
export interface WorktreeState extends Worktree {
  id: string;
  /** The main checkout it belongs to, and the branch checked out there (what `merge` fast-forwards). */
  repo: string | null;
  base: string | null;
  /** Uncommitted changes in the worktree. */
  dirty: boolean;
  /** Commits on its branch that the base branch lacks. */
  unmerged: number;
}

async function git(cwd: string, args: string[]) {
  // No core.fsmonitor command, as for the worker's status of a run's tree (codex/git-changes.ts).
  const r = await execa('git', ['-c', 'core.fsmonitor=false', '-C', cwd, ...args], { stdin: 'ignore', reject: false });
  return { ok: r.exitCode === 0, out: String(r.stdout).trim(), err: String(r.stderr).trim() };
}

/** The job ids that have a worktree under spool/worktrees/. */
export async function worktreeIds(layout: SpoolLayout): Promise<string[]> {
  const names = await readdir(layout.worktrees, { withFileTypes: true }).catch(ifMissing([]));
  return names
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

/**
 * The state of job `id`'s worktree, or null when it has none. `jobRepo`, a worktree job's repo: where its branch
 * is looked for when the worktree's directory is gone (removed by hand, its branch and commits stay behind).
 */
export async function worktreeState(layout: SpoolLayout, id: string, jobRepo: string | null = null): Promise<WorktreeState | null> {
  const wt = worktreeOf(layout, id);
  // Only a worktree of our own: a link there (to a repo, a home) is none, never removed or merged through.
  const problem = await worktreeProblem(layout, id);
  if (problem === 'missing') return jobRepo ? branchState(wt, id, jobRepo) : null;
  if (problem !== null) return null;
  const common = await git(wt.path, ['rev-parse', '--path-format=absolute', '--git-common-dir']);
  const repo = common.ok ? dirname(common.out) : null;
  const base = repo ? await git(repo, ['rev-parse', '--abbrev-ref', 'HEAD']) : null;
  const status = await git(wt.path, ['status', '--porcelain']);
  const ahead = repo ? await git(repo, ['rev-list', '--count', `HEAD..${wt.branch}`]) : null;
  return {
    ...wt,
    id,
    repo,
    base: base?.ok ? base.out : null,
    dirty: !status.ok || status.out !== '',
    unmerged: ahead?.ok ? Number(ahead.out) : 0,
  };
}

/** A worktree whose directory is gone, as its branch in `repo` has it; null when there is no such branch. */
async function branchState(wt: Worktree, id: string, repo: string): Promise<WorktreeState | null> {
  const common = await git(repo, ['rev-parse', '--path-format=absolute', '--git-common-dir']);
  const main = common.ok ? dirname(common.out) : null;
  if (!main || !(await git(main, ['rev-parse', '--verify', '--quiet', `refs/heads/${wt.branch}`])).ok) return null;
  const base = await git(main, ['rev-parse', '--abbrev-ref', 'HEAD']);
  const ahead = await git(main, ['rev-list', '--count', `HEAD..${wt.branch}`]);
  return { ...wt, id, repo: main, base: base.ok ? base.out : null, dirty: false, unmerged: ahead.ok ? Number(ahead.out) : 0 };
}

/** Why a worktree is kept rather than removed without --force, or null when nothing would be lost (pure). */
export function keepReason(s: WorktreeState): string | null {
  if (s.dirty) return 'uncommitted changes';
  if (s.unmerged) return `${s.unmerged} unmerged commit${s.unmerged === 1 ? '' : 's'}`;
  return null;
}

/**
 * Removes job `id`'s worktree and branch; without `force` only when nothing would be lost (see keepReason).
 * Returns null when removed (or there was none), else why it was kept.
 */
export async function removeWorktree(layout: SpoolLayout, id: string, force: boolean, repo: string | null = null): Promise<string | null> {
  const s = await worktreeState(layout, id, repo);
  if (!s) return null;
  const keep = keepReason(s);
  if (keep && !force) return keep;
  if (!s.repo) {
    await rm(s.path, { recursive: true, force: true });
    return null;
  }
  // A directory removed by hand: git forgets it here (or already did, if it was removed with git).
  const removed = await git(s.repo, ['worktree', 'remove', '--force', s.path]);
  if (!removed.ok && (await lstat(s.path).catch(ifMissing(null)))) return `git worktree remove failed: ${removed.err}`;
  await git(s.repo, ['branch', '-D', s.branch]);
  return null;
}

/** Fast-forwards the base branch (checked out in the main repo) to job `id`'s branch; the refusal, or null when done. */
export async function mergeWorktree(layout: SpoolLayout, id: string, repo: string | null = null): Promise<string | null> {
  const s = await worktreeState(layout, id, repo);
  if (!s?.repo) return `job ${id} has no worktree`;
  if (s.dirty) return `${s.path} has uncommitted changes: commit them on ${s.branch} first`;
  if (!s.unmerged) return `${s.branch} has no commits that ${s.base ?? 'HEAD'} lacks: nothing to merge`;
  const merged = await git(s.repo, ['merge', '--ff-only', '--quiet', s.branch]);
  if (!merged.ok) return `cannot fast-forward ${s.base ?? 'HEAD'} to ${s.branch} (rebase it first): ${merged.err.split('\n')[0]}`;
  return null;
}

/** What prune did (or, dry, would do) with the worktrees of the jobs it removes. */
export interface WorktreePrune {
  removed: string[];
  kept: { id: string; why: string }[];
}

/**
 * The worktrees of jobs `ids` (with the repo of each worktree job): removed (if `apply`) unless something
 * would be lost and not `force`.
 */
export async function pruneWorktrees(
  layout: SpoolLayout,
  ids: { id: string; repo: string | null }[],
  apply: boolean,
  force: boolean,
): Promise<WorktreePrune> {
  const out: WorktreePrune = { removed: [], kept: [] };
  for (const { id, repo } of ids) {
    const s = await worktreeState(layout, id, repo);
    if (!s) continue;
    const why = apply ? await removeWorktree(layout, id, force, repo) : force ? null : keepReason(s);
    if (why) out.kept.push({ id, why });
    else out.removed.push(id);
  }
  return out;
}
