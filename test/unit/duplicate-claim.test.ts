// An inbox file whose id another job holds (active/, deferred/, done/, failed/) is taken only to be
// rejected, by one process at a time, even while that job's own lock is held by its run; a second name of
// the same file (a move cut short) is never taken for a duplicate.
import { link, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tryLock } from '../../src/spool/lock.js';
import { claimDuplicate, claimJob } from '../../src/spool/moves.js';
import { ensureSpool, spoolLayout, type SpoolLayout } from '../../src/spool/layout.js';

const OTHERS = ['active', 'deferred', 'done', 'failed'] as const;

let tmp: string;
beforeAll(async () => (tmp = await mkdtemp(join(tmpdir(), 'codex-spool-unit-dup-'))));
afterAll(() => rm(tmp, { recursive: true, force: true }));

let n = 0;
async function freshSpool(): Promise<SpoolLayout> {
  const layout = spoolLayout(join(tmp, `root-${n++}`));
  await ensureSpool(layout);
  return layout;
}

describe('claimDuplicate and claimJob of an inbox file whose id is taken', () => {
  it('the other copy decides: a duplicate of the first state holding it, taken by one process at a time; else a plain claim', async () => {
    await fc.assert(
      fc.asyncProperty(fc.subarray([...OTHERS]), fc.boolean(), async (others, runHoldsLock) => {
        const layout = await freshSpool();
        await writeFile(layout.job('inbox', 'x'), '{"task":"impostor"}');
        for (const state of others) await writeFile(layout.job(state, 'x'), `{"task":"${state}"}`);
        // A live run holds the job's own lock (only a job in active/ can be running).
        const runLock = runHoldsLock && others.includes('active') ? await tryLock(layout.dir('active'), 'x.json', () => undefined) : null;
        const dup = await claimDuplicate(layout, 'x.json');
        if (others.length === 0) {
          expect(dup).toBeNull();
          const claim = await claimJob(layout, 'x.json');
          expect(claim?.duplicateOf).toBeNull();
          expect({ inbox: await readdir(layout.dir('inbox')), active: (await readdir(layout.dir('active'))).includes('x.json') }).toEqual({
            inbox: [],
            active: true,
          });
          await claim?.release();
          return;
        }
        expect(dup?.duplicateOf).toBe(OTHERS.find((s) => others.includes(s)));
        expect(dup?.path).toBe(layout.job('inbox', 'x'));
        // While it is being rejected, no one else takes it, by either way.
        expect(await claimDuplicate(layout, 'x.json')).toBeNull();
        expect(await claimJob(layout, 'x.json')).toBeNull();
        await dup!.release();
        const claim = await claimJob(layout, 'x.json');
        expect(claim?.duplicateOf ?? null).toBe(runLock ? null : dup!.duplicateOf); // the run's lock keeps a plain claim out
        await claim?.release();
        await runLock?.release();
      }),
      { numRuns: 40 },
    );
  });

  it('a second name of the same file in active/ or deferred/ (a move cut short) is not a duplicate: left to recovery', async () => {
    for (const state of ['active', 'deferred'] as const) {
      const layout = await freshSpool();
      await writeFile(layout.job(state, 'x'), '{"task":"one job"}');
      await link(layout.job(state, 'x'), layout.job('inbox', 'x'));
      expect(await claimDuplicate(layout, 'x.json')).toBeNull();
      expect(await claimJob(layout, 'x.json')).toBeNull();
      expect(await readdir(layout.dir('inbox'))).toEqual(['x.json']);
    }
  });

  it('a finished job linked into the inbox by hand (ln done/x.json inbox/x.json, to run it again) is a duplicate: rejected, not held for ever', async () => {
    for (const state of ['done', 'failed'] as const) {
      const layout = await freshSpool();
      await writeFile(layout.job(state, 'x'), '{"task":"ran once"}');
      await link(layout.job(state, 'x'), layout.job('inbox', 'x'));
      const dup = await claimDuplicate(layout, 'x.json');
      expect(dup?.duplicateOf).toBe(state);
      await dup?.release();
    }
  });

  // Through sshfs a second name shows an inode number of its own and one link: it looks like a copy.
  it('a copy of the same bytes in active/ (a cut-short move as sshfs shows it) is not a duplicate; other bytes, or a copy elsewhere, are', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...OTHERS), fc.string({ minLength: 1, maxLength: 40 }), fc.boolean(), async (state, task, same) => {
        const layout = await freshSpool();
        const bytes = JSON.stringify({ task });
        await writeFile(layout.job(state, 'x'), bytes);
        await writeFile(layout.job('inbox', 'x'), same ? bytes : JSON.stringify({ task: `${task}!` }));
        const dup = await claimDuplicate(layout, 'x.json');
        expect(dup?.duplicateOf ?? null).toBe(same && state === 'active' ? null : state);
        await dup?.release();
        expect(await readdir(layout.dir('inbox'))).toEqual(['x.json']);
      }),
      { numRuns: 40 },
    );
  });

  it('a deferred file with a second name in active/ (a requeue whose unlink failed) is not claimed: a rename would leave both', async () => {
    const layout = await freshSpool();
    await writeFile(layout.job('active', 'x'), '{"task":"one job"}');
    await link(layout.job('active', 'x'), layout.job('deferred', 'x'));
    expect(await claimJob(layout, 'x.json', 'deferred')).toBeNull();
    expect(await readdir(layout.dir('deferred'))).toEqual(['x.json']);
  });
});
