// A live run must never be judged dead because its alive file could not be looked at.
import fs from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import { aliveElseFenced, serverNow } from '../src/codex/liveness.js';

afterEach(() => vi.restoreAllMocks());

it('an EIO on the fresh alive file of a live run does not read as dead, nor fence it', async () => {
  const runs = await mkdtemp(join(tmpdir(), 'rt-live-'));
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
