// A hostile inbox writer's race: the job file swapped for a FIFO right after the worker lstat'ed it (a
// regular file then). Whichever look it comes after (the scan's peek, the claim, its read of the claimed
// file, the second-name check), the worker must not open the FIFO and wait for a writer for ever: the file
// is rejected as not a regular file, and the worker goes on (here: --once ends).
import { execFileSync } from 'node:child_process';
import type * as Fs from 'node:fs/promises';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ensureSpool, spoolLayout } from '../src/spool/layout.js';
import { isSecondName } from '../src/spool/moves.js';
import { inProcessWorker } from './helpers/in-process-worker.js';

/** The path whose `swapAt`-th successful lstat (of a regular file) swaps it for a FIFO before it returns. */
const race = { suffix: '', swapAt: 0, seen: 0 };
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof Fs>();
  const lstat = (async (path: string, ...rest: unknown[]) => {
    const st = await (fs.lstat as (...a: unknown[]) => ReturnType<typeof fs.lstat>)(path, ...rest);
    if (race.suffix && String(path).endsWith(race.suffix) && st.isFile() && ++race.seen === race.swapAt) {
      await fs.rm(path);
      execFileSync('mkfifo', [String(path)]);
    }
    return st;
  }) as typeof fs.lstat;
  return { ...fs, lstat, default: { ...fs, lstat } };
});

let tmp: string;
beforeAll(async () => (tmp = await mkdtemp(join(tmpdir(), 'codex-spool-fifo-swap-'))));
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('a job file swapped for a FIFO after the worker looked at it', () => {
  it('whichever look it follows, the --once worker rejects it and ends', async () => {
    for (let swapAt = 1; swapAt <= 4; swapAt++) {
      const layout = spoolLayout(join(tmp, `root-${swapAt}`));
      await ensureSpool(layout);
      await writeFile(layout.job('inbox', 'x'), `${JSON.stringify({ repo: tmp, task: 'never run' })}\n`);
      Object.assign(race, { suffix: '/x.json', swapAt, seen: 0 });
      const logs: string[] = [];
      const worker = inProcessWorker(layout, logs);
      await worker.start();
      race.suffix = '';
      expect([race.seen >= swapAt, await readdir(layout.dir('inbox')), await readdir(layout.dir('active'))], logs.join('\n')).toEqual([
        true,
        [],
        [],
      ]);
      expect((await readdir(layout.dir('rejected'))).sort(), logs.join('\n')).toEqual(['x.error.json', 'x.json']);
    }
  }, 60_000);

  it('isSecondName: a name swapped for a FIFO after its lstat is not a second name, and is not waited on', async () => {
    const a = join(tmp, 'a.json');
    const b = join(tmp, 'b.json');
    await writeFile(a, 'same');
    await writeFile(b, 'same');
    const fs = await vi.importActual<typeof Fs>('node:fs/promises');
    const [aSt, bSt] = await Promise.all([fs.lstat(a), fs.lstat(b)]);
    await rm(b);
    execFileSync('mkfifo', [b]);
    expect(await isSecondName(a, aSt, b, bSt, true)).toBe(false);
  }, 10_000);
});
