// A queued file the worker cannot lstat (EIO from a failing disk, EACCES on a shared spool) is said in its
// log once while the fault lasts, not on every scan (a rescan a second, for days), and said again when the
// error changes or comes back after the file could be looked at.
import type * as Fs from 'node:fs/promises';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { ensureSpool, spoolLayout } from '../src/spool/layout.js';
import { inProcessWorker } from './helpers/in-process-worker.js';

/**
 * lstat of a file there whose path ends in `suffix` fails with `code` (none: every lstat works); `looks` counts those
 * failures, `lists` the listings of a directory ending in /inbox.
 */
const fault = { suffix: '', code: '', looks: 0, lists: 0 };
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof Fs>();
  const lstat = (async (path: string, ...rest: unknown[]) => {
    const st = await (fs.lstat as (...a: unknown[]) => ReturnType<typeof fs.lstat>)(path, ...rest); // a file not there is ENOENT still
    if (fault.code && String(path).endsWith(fault.suffix) && ++fault.looks)
      throw Object.assign(new Error(`${fault.code}: lstat '${path}'`), { code: fault.code });
    return st;
  }) as typeof fs.lstat;
  const readdir = ((path: string, ...rest: unknown[]) => {
    if (String(path).endsWith('/inbox')) fault.lists++;
    return (fs.readdir as (...a: unknown[]) => ReturnType<typeof fs.readdir>)(path, ...rest);
  }) as typeof fs.readdir;
  return { ...fs, lstat, readdir, default: { ...fs, lstat, readdir } };
});

let tmp: string;
beforeAll(async () => (tmp = await mkdtemp(join(tmpdir(), 'codex-spool-unlookable-'))));
afterAll(() => rm(tmp, { recursive: true, force: true }));

it('an inbox file that cannot be lstat-ed is logged once per error while the fault lasts, again once it went and came back', async () => {
  const layout = spoolLayout(join(tmp, 'root'));
  await ensureSpool(layout);
  Object.assign(fault, { suffix: '/e.json', code: 'EIO' });
  await writeFile(layout.job('inbox', 'e'), `${JSON.stringify({ repo: tmp, task: 'x' })}\n`);
  const logs: string[] = [];
  const worker = inProcessWorker(layout, logs, { once: false, pollMs: 50, rescanMs: 20 });
  const said = () => logs.filter((l) => l.startsWith('cannot look at inbox/e.json'));
  try {
    await worker.start();
    // Several scans looked at it meanwhile (a rescan every 20 ms).
    const scans = async (n: number, counter: 'looks' | 'lists' = 'looks') => {
      const from = fault[counter];
      await vi.waitFor(() => expect(fault[counter] - from).toBeGreaterThanOrEqual(n), { timeout: 10_000 });
    };
    await scans(5);
    expect(said(), logs.join('\n')).toHaveLength(1);
    expect(said()[0]).toContain('EIO');
    fault.code = 'EACCES'; // another error: said again, once
    await scans(5);
    expect(
      said().map((l) => l.split(': ')[1]?.split(':')[0]),
      logs.join('\n'),
    ).toEqual(['EIO', 'EACCES']);
    // Gone (listings without it), then back with the same error: said again, as a new file would be. Under
    // --poll (as here) no event names the removed file: only the listing can forget it.
    await rm(layout.job('inbox', 'e'));
    await scans(3, 'lists');
    await writeFile(layout.job('inbox', 'e'), `${JSON.stringify({ repo: tmp, task: 'x' })}\n`);
    await scans(5);
    expect(said(), logs.join('\n')).toHaveLength(3);
  } finally {
    fault.code = '';
    await worker.stop();
  }
}, 30_000);
