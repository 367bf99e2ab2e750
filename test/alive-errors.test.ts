// A live run must never be judged dead because its alive file could not be looked at.
import fs from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { makeTempRoot, type TempRoot } from './helpers/spool-env.js';
import { aliveElseFenced, serverNow } from '../src/codex/liveness.js';

let t: TempRoot;
beforeEach(async () => {
  t = await makeTempRoot();
});
afterEach(async () => {
  vi.restoreAllMocks();
  await t.cleanup();
});

it('an EIO on the fresh alive file of a live run does not read as dead, nor fence it', async () => {
  const runs = join(t.dir, 'runs');
  await fs.promises.mkdir(runs);
  const runDir = join(runs, 'run1');
  await fs.promises.mkdir(runDir);
  await writeFile(join(runDir, 'alive'), '.'); // fresh: its loop just beat
  const now = await serverNow(runs);
  const stat = fs.stat;
  vi.spyOn(fs, 'stat').mockImplementation(((path: fs.PathLike, cb: (e: NodeJS.ErrnoException | null) => void) => {
    if (String(path).endsWith('/alive')) return cb(Object.assign(new Error('EIO: i/o error, stat'), { code: 'EIO' }));
    return (stat as (p: fs.PathLike, c: unknown) => void)(path, cb);
  }) as typeof fs.stat);
  // Expected: the error surfaces (the judge tries again later) or the run counts as alive; never "dead".
  const verdict = await aliveElseFenced(runDir, now).then(
    (alive) => (alive ? 'alive' : 'dead'),
    () => 'error surfaced',
  );
  expect(verdict).not.toBe('dead');
  expect(await readFile(join(runDir, 'launch'), 'utf8').catch(() => 'no launch file')).toBe('no launch file');
});
