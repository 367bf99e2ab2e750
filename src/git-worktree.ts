// Worktree jobs: each gets its own git worktree and branch, owned by the queue and kept for review,
// so it can run beside other jobs on the same repo without sharing a working tree.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import type { SpoolLayout } from './spool-layout.js';

export interface Worktree {
  path: string;
  branch: string;
}

/** Where job `id`'s worktree lives and what its branch is called (pure). */
export function worktreeOf(layout: SpoolLayout, id: string): Worktree {
  return { path: join(layout.root, 'spool', 'worktrees', id), branch: `codex-spool/${id}` };
}

/** Creates job `id`'s worktree from the repo's HEAD, or reuses it when a retried or resumed run finds it there. */
export async function ensureWorktree(layout: SpoolLayout, repo: string, id: string): Promise<Worktree> {
  const wt = worktreeOf(layout, id);
  if (await stat(wt.path).then((s) => s.isDirectory(), () => false)) return wt;
  const result = await execa('git', ['-C', repo, 'worktree', 'add', '-b', wt.branch, wt.path, 'HEAD'], {
    stdin: 'ignore',
    reject: false,
  });
  if (result.exitCode !== 0) throw new Error(`git worktree add failed: ${String(result.stderr).trim()}`);
  return wt;
}
