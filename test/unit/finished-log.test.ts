// spool/finished.log: status orders finished jobs by the mtimes it vouches for; it must never vouch for a
// wrong one, whatever crashes, lost lines, removals and rebuilds came before.
import { execFileSync } from 'node:child_process';
import { lstatSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileLogged, parseFinishedLog, readFinishedLog, rebuildFinishedLog } from '../../src/spool/finished-log.js';
import { listJobFiles, selectForStatus, statusSelection } from '../../src/read/listing.js';
import { ifMissing } from '../../src/util/errors.js';
import { FINISHED_STATES, ensureSpool, spoolLayout, type FinishedState, type SpoolLayout } from '../../src/spool/layout.js';

let tmp: string;
let layout: SpoolLayout;
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'codex-spool-unit-finished-log-'));
  layout = spoolLayout(join(tmp, 'root'));
  await ensureSpool(layout);
});
afterEach(() => rm(tmp, { recursive: true, force: true }));

describe('parseFinishedLog', () => {
  it("takes each name's last line, `-` as vouching for nothing, and skips torn and foreign lines", () => {
    const log = parseFinishedLog(
      [
        'done/a.json 1000.5',
        'done/b.json 2000',
        'done/a.json -',
        'failed/b.json 3000',
        'done/c.json 17done/d.json 4000', // a torn line and the next one, run together
        'done/e.j' + 'done/f.json 5000',
        'inbox/g.json 6000',
        'done/h.json ',
        'rejected/i.json 7000',
      ].join('\n'),
    );
    expect(Object.fromEntries(FINISHED_STATES.map((s) => [s, Object.fromEntries(log[s])]))).toEqual({
      done: { 'a.json': null, 'b.json': 2000 },
      failed: { 'b.json': 3000 },
      rejected: { 'i.json': 7000 },
    });
  });
});

describe('fileLogged', () => {
  it('logs `-` before the file is placed and its mtime after; a place that throws leaves `-`', async () => {
    const path = layout.job('done', 'a');
    let during: string | null = null;
    await fileLogged(layout, path, async () => {
      during = await readFile(layout.finishedLog, 'utf8');
      await writeFile(path, '{}');
    });
    expect(during).toBe('done/a.json -\n');
    expect(readFinishedLog(layout).done.get('a.json')).toBe(lstatSync(path).mtimeMs);
    await expect(
      fileLogged(layout, path, async () => {
        await writeFile(path, '{"again":1}');
        throw new Error('crashed before its line');
      }),
    ).rejects.toThrow('crashed');
    expect(readFinishedLog(layout).done.get('a.json')).toBeNull();
  });

  it('removes the log when an append fails (its old lines must not stay vouching), and the move goes on', async () => {
    await mkdir(join(tmp, 'a-dir'));
    await symlink(join(tmp, 'a-dir'), layout.finishedLog); // every append fails EISDIR; an unlink removes the link
    const path = layout.job('done', 'a');
    await fileLogged(layout, path, () => writeFile(path, '{}'));
    expect(await readFile(layout.finishedLog, 'utf8')).toBe(`done/a.json ${lstatSync(path).mtimeMs}\n`);
  });

  // Seen: a FIFO in its place held every filing for ever (an open for writing waits for a reader), and
  // prune's rebuild too (a read of a FIFO it holds open for writing never ends).
  it('a FIFO in its place holds neither a filing nor a rebuild: it is removed, and a log made anew', async () => {
    execFileSync('mkfifo', [layout.finishedLog]);
    const path = layout.job('done', 'a');
    await fileLogged(layout, path, () => writeFile(path, '{}'));
    expect(await readFile(layout.finishedLog, 'utf8')).toBe(`done/a.json ${lstatSync(path).mtimeMs}\n`); // the first append removed it
    await rm(layout.finishedLog);
    execFileSync('mkfifo', [layout.finishedLog]);
    await rebuildFinishedLog(layout);
    expect(lstatSync(layout.finishedLog).isFile()).toBe(true);
    expect(await readFile(layout.finishedLog, 'utf8')).toBe(`done/a.json ${lstatSync(path).mtimeMs}\n`);
  });
});

/** One step of a spool's life, as the property test plays it. */
type Step =
  | {
      kind: 'file';
      state: FinishedState;
      id: string;
      mtime: number;
      fault: 'none' | 'lose-dash' | 'lose-mtime' | 'crash-after' | 'crash-before';
    }
  | { kind: 'remove'; state: FinishedState; id: string }
  | { kind: 'rebuild' };

const ids = fc.constantFrom('a', 'b', 'c', 'd', 'e');
const states = fc.constantFrom(...FINISHED_STATES);
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('file' as const),
      state: states,
      id: ids,
      mtime: fc.integer({ min: 1, max: 6 }), // few values: ties, which byAge breaks by id
      fault: fc.constantFrom('none', 'none', 'lose-dash', 'lose-mtime', 'crash-after', 'crash-before'),
    }),
    weight: 4,
  },
  { arbitrary: fc.record({ kind: fc.constant('remove' as const), state: states, id: ids }), weight: 2 },
  { arbitrary: fc.constant({ kind: 'rebuild' as const }), weight: 1 },
);

/** Drops line `fromEnd` (1: the last) of the log: an append that was lost. */
async function loseLine(fromEnd: number): Promise<void> {
  const lines = (await readFile(layout.finishedLog, 'utf8')).split('\n').slice(0, -1);
  lines.splice(lines.length - fromEnd, 1);
  await writeFile(layout.finishedLog, lines.map((l) => `${l}\n`).join(''));
}

async function play(s: Step): Promise<void> {
  if (s.kind === 'rebuild') return rebuildFinishedLog(layout);
  const path = layout.job(s.state, s.id);
  if (s.kind === 'remove') return unlink(path).catch(ifMissing(undefined));
  const place = async () => {
    if (s.fault === 'crash-before') throw new Error('crash');
    await writeFile(path, `{"n":${Math.random()}}`);
    await utimes(path, s.mtime, s.mtime);
    if (s.fault === 'crash-after') throw new Error('crash');
  };
  await fileLogged(layout, path, place).catch((err: Error) => expect(err.message).toBe('crash'));
  if (s.fault === 'lose-mtime') await loseLine(1);
  if (s.fault === 'lose-dash') await loseLine(2);
}

describe('finished.log, property', () => {
  it('never vouches for a wrong mtime, and status shows the order of an lstat of every file, whatever the faults (one per filing)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 30 }), fc.integer({ min: 0, max: 4 }), async (steps, last) => {
        await rm(layout.spool, { recursive: true, force: true });
        await ensureSpool(layout);
        for (const s of steps) await play(s);
        const logged = readFinishedLog(layout);
        for (const state of FINISHED_STATES) {
          for (const [name, mtime] of logged[state]) {
            const st = lstatSync(join(layout.dir(state), name), { throwIfNoEntry: false });
            if (st && mtime !== null) expect(mtime).toBe(st.mtimeMs);
          }
        }
        const seen = (e: { id: string; state: string; mtimeMs: number }) => `${e.state}/${e.id}@${e.mtimeMs}`;
        const byLstat = selectForStatus(listJobFiles(layout), last);
        const shown = statusSelection(layout, null, last);
        expect(shown.shown.map(seen)).toEqual(byLstat.shown.map(seen));
        expect(shown.counts).toEqual(byLstat.counts);
      }),
      { numRuns: 100 },
    );
  });
});
