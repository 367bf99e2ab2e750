// A network file system's client may still show a file that another host has taken: sshfs keeps names and
// attributes cached for 20 s, so an lstat says "a regular file" where an open says ENOENT. Seen on two hosts:
// a worker "rejected" as a duplicate an inbox file the other host had already run (its lstat said it was
// there, only the rename found it gone), leaving an error file for a job file that never came. Here lstat is
// made to answer from such a cache: whatever the claim opens is the server's word.
import type * as Fs from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { lstat, mkdtemp, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ensureSpool, spoolLayout } from '../src/spool/layout.js';
import { claimDuplicate, claimJob } from '../src/spool/moves.js';

/** Paths whose lstat answers from a (stale) cache: the Stats seen before the file went. */
const cached = new Map<string, Stats>();
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof Fs>();
  const lstat = (async (path: string, ...rest: unknown[]) =>
    cached.get(String(path)) ?? (fs.lstat as (...a: unknown[]) => ReturnType<typeof fs.lstat>)(path, ...rest)) as typeof fs.lstat;
  return { ...fs, lstat, default: { ...fs, lstat } };
});

let tmp: string;
beforeAll(async () => (tmp = await mkdtemp(join(tmpdir(), 'codex-spool-stale-cache-'))));
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('an inbox file gone on the server, still there in the client cache', () => {
  it('is no duplicate to reject: the claim finds it gone, and leaves nothing behind', async () => {
    const layout = spoolLayout(join(tmp, 'root'));
    await ensureSpool(layout);
    await writeFile(layout.job('done', 'x'), JSON.stringify({ repo: tmp, task: 'ran on the other host', result: { status: 'succeeded' } }));
    const ghost = layout.job('inbox', 'x');
    await writeFile(ghost, JSON.stringify({ repo: tmp, task: 'ran on the other host' }));
    cached.set(ghost, await lstat(ghost));
    await unlink(ghost); // the other host took it
    expect(await claimDuplicate(layout, 'x.json')).toBeNull();
    expect(await claimJob(layout, 'x.json')).toBeNull();
    expect([await readdir(layout.dir('rejected')), await readdir(layout.dir('active'))]).toEqual([[], []]);
  });
});
