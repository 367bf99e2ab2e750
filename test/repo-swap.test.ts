// A job's repo may be a link its writer swaps at will (a path in their own directory). Whatever the moment of
// the swap, the directory whose owner the policy judges is the one Codex gets (--cd): here the link is swapped
// right after the first look that follows it, as a writer racing the check would.
import { chown, mkdtemp, realpath, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { DEFAULT_POLICY } from '../src/spool/policy.js';
import { checkJob } from '../src/spool/validation.js';
import { spoolLayout } from '../src/spool/layout.js';

const swap = vi.hoisted(() => ({ link: '', to: '' }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const swapAfter =
    <A extends unknown[], R>(f: (path: string, ...rest: A) => Promise<R>) =>
    async (path: string, ...rest: A): Promise<R> => {
      const result = await f(path, ...rest);
      if (swap.link !== '' && path === swap.link) {
        const { link, to } = swap;
        swap.link = '';
        await fs.unlink(link);
        await fs.symlink(to, link);
      }
      return result;
    };
  return { ...fs, stat: swapAfter(fs.stat), lstat: swapAfter(fs.lstat), realpath: swapAfter(fs.realpath) };
});

let dir: string;
beforeEach(async () => void (dir = await mkdtemp(join(tmpdir(), 'repo-swap-'))));
afterEach(() => rm(dir, { recursive: true, force: true }));

it("a repo link swapped while the job is checked: Codex gets the directory whose owner was checked, never another user's", async () => {
  const mine = await realpath(await mkdtemp(join(dir, 'mine-')));
  // A directory the worker's user does not own: root's /usr, or (running as root) one given to nobody.
  const theirs = process.getuid?.() === 0 ? await mkdtemp(join(dir, 'theirs-')) : '/usr';
  if (process.getuid?.() === 0) await chown(theirs, 65534, 65534);
  expect((await stat(theirs)).uid).not.toBe(process.getuid?.());
  const link = join(dir, 'repo');
  await symlink(mine, link);
  Object.assign(swap, { link, to: theirs });

  const layout = spoolLayout(join(dir, 'root'));
  const decision = await checkJob(layout, 'j', { repo: link, task: 't' }, DEFAULT_POLICY);
  expect(swap.link).toBe(''); // swapped during the check
  expect(decision).toEqual({ kind: 'ok', repo: mine, resumeSession: null });
});
