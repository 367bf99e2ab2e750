// spool/listing.cache: status takes a finished state's listing from it only while the state's directory is
// unchanged, saves one only for a directory that was quiet before the listing, and never lets a forged one
// make it read a file outside its directory.
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listJobFiles, selectForStatus, statusSelection } from '../../src/read/listing.js';
import { ifMissing } from '../../src/util/errors.js';
import { FINISHED_STATES, JOB_STATES, ensureSpool, spoolLayout, type FinishedState, type SpoolLayout } from '../../src/spool/layout.js';

let tmp: string;
let layout: SpoolLayout;
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'codex-spool-unit-listing-cache-'));
  layout = spoolLayout(join(tmp, 'root'));
  await ensureSpool(layout);
});
afterEach(() => rm(tmp, { recursive: true, force: true }));

/** A past moment every aged directory gets (the same one each time: an equal mtime must not fool the cache). */
const PAST = new Date(Date.now() - 60_000);
/** Makes the finished directories look quiet: last changed a minute ago. */
const age = () => Promise.all(FINISHED_STATES.map((s) => utimes(layout.dir(s), PAST, PAST)));
const place = async (state: FinishedState, id: string, mtimeS: number) => {
  await writeFile(layout.job(state, id), `{"repo":"/r","task":"${id}"}`);
  await utimes(layout.job(state, id), mtimeS, mtimeS);
};
const seen = (e: { id: string; state: string; mtimeMs: number }) => `${e.state}/${e.id}@${e.mtimeMs}`;
/** What status shows, and what an lstat of every file says it should. */
const shownAndTruth = (last: number, only: ReadonlySet<string> | null = null) => {
  const got = statusSelection(layout, only, last);
  const truth = selectForStatus(listJobFiles(layout, JOB_STATES, {}, only), last);
  return [
    { shown: got.shown.map(seen), counts: got.counts },
    { shown: truth.shown.map(seen), counts: truth.counts },
  ];
};

describe('spool/listing.cache', () => {
  it('is saved for quiet directories only, then used while they are unchanged', async () => {
    await place('done', 'a', 100);
    statusSelection(layout, null, 5);
    expect(existsSync(layout.listingCache)).toBe(false); // done/ changed just now: a change may share its mtime
    await age();
    statusSelection(layout, null, 5);
    const saved = JSON.parse(await readFile(layout.listingCache, 'utf8'));
    expect(saved.done.names).toBe('a.json');
    // A cache with a name no file has (older than any shown, so never lstat'ed) is used: it is counted.
    saved.done.names = 'ghost-1.json/ghost-2.json/a.json';
    saved.done.mtimes = Buffer.from(Float64Array.from([1, 2, 100_000]).buffer).toString('base64');
    await writeFile(layout.listingCache, JSON.stringify(saved));
    expect(statusSelection(layout, null, 1).counts.done).toBe(3);
    // Any change to done/ (here a file placed, and the directory's mtime put back as it was) ends its use.
    await place('done', 'b', 50);
    await age();
    const [got, truth] = shownAndTruth(1);
    expect(got).toEqual(truth);
    expect(got!.counts.done).toBe(2);
  });

  it('keeps a name with a newline (any name a file can have)', async () => {
    await place('done', 'x\ny', 100);
    await place('done', 'a', 200);
    await age();
    statusSelection(layout, null, 5);
    const saved = readFileSync(layout.listingCache, 'utf8');
    expect(JSON.parse(saved).done.names).toBe('x\ny.json/a.json');
    const { ino, mtimeMs } = lstatSync(layout.listingCache);
    const [got, truth] = shownAndTruth(5);
    expect(got).toEqual(truth);
    expect(lstatSync(layout.listingCache)).toMatchObject({ ino, mtimeMs }); // used, not made again
  });

  it('falls back to the directory when a forged cache names a file elsewhere among those it shows', async () => {
    await place('done', 'a', 100);
    await age();
    statusSelection(layout, null, 5);
    await writeFile(join(layout.root, 'secret.json'), '{"repo":"/secret","task":"x"}');
    const saved = JSON.parse(await readFile(layout.listingCache, 'utf8'));
    // `../../secret.json` is read back as three names (a name never holds the `/` they are joined by)
    const secret = lstatSync(join(layout.root, 'secret.json')).mtimeMs;
    saved.done.names = 'a.json/../../secret.json';
    saved.done.mtimes = Buffer.from(Float64Array.from([100_000, secret, secret, secret]).buffer).toString('base64');
    await writeFile(layout.listingCache, JSON.stringify(saved));
    const shown = statusSelection(layout, null, 5).shown;
    expect(shown.map((e) => e.path)).toEqual([layout.job('done', 'a')]);
    // Names no job file has (`..`, `ab`: id '') are not opened either.
    await writeFile(join(layout.spool, 'ab'), '{}');
    const ab = lstatSync(join(layout.spool, 'ab')).mtimeMs;
    saved.done.names = 'a.json/../ab';
    saved.done.mtimes = Buffer.from(Float64Array.from([100_000, ab, ab]).buffer).toString('base64');
    await writeFile(layout.listingCache, JSON.stringify(saved));
    expect(statusSelection(layout, null, 5).shown.map((e) => e.path)).toEqual([layout.job('done', 'a')]);
  });

  it('is made again when a job it shows has another mtime than it gave (a file changed in place)', async () => {
    await place('done', 'a', 100);
    await place('done', 'b', 200);
    await age();
    statusSelection(layout, null, 1);
    await utimes(layout.job('done', 'b'), 50, 50); // the one shown, changed in place: done/ keeps its stamp
    const [got, truth] = shownAndTruth(1);
    expect(got).toEqual(truth);
    const bytes = Buffer.from(JSON.parse(readFileSync(layout.listingCache, 'utf8')).done.mtimes, 'base64');
    expect(Array.from({ length: bytes.length / 8 }, (_, i) => bytes.readDoubleLE(i * 8))).toEqual([50_000, 100_000]);
  });

  it("removes the temp files of a status killed while listing once they are an hour old, not another status' live one", async () => {
    const tmpOf = (pid: number) => `${layout.listingCache}.${pid}.0123abcd.tmp`;
    await writeFile(tmpOf(1), '');
    await utimes(tmpOf(1), PAST.getTime() / 1000 - 3600, PAST.getTime() / 1000 - 3600);
    await writeFile(tmpOf(2), '');
    await age();
    statusSelection(layout, null, 5);
    expect([existsSync(layout.listingCache), existsSync(tmpOf(1)), existsSync(tmpOf(2))]).toEqual([true, false, true]);
  });

  it('ignores a cache that is not one (torn, sizes that disagree, other types, a directory)', async () => {
    await place('done', 'a', 100);
    await place('done', 'b', 200);
    await age();
    statusSelection(layout, null, 5);
    const stamp = JSON.parse(readFileSync(layout.listingCache, 'utf8')).done.stamp as string;
    const done = (names: unknown, mtimes: unknown) => JSON.stringify({ done: { stamp, names, mtimes } });
    for (const bad of [
      done('a.json/b.json/c.json', Buffer.from(Float64Array.from([100_000, 200_000]).buffer).toString('base64')), // 3 names, 2 mtimes (theirs)
      done(['a.json', 'b.json'], [1, 2]),
      done('a.json', 7),
      '{"done":',
      'null',
    ]) {
      await writeFile(layout.listingCache, bad);
      const [got, truth] = shownAndTruth(5);
      expect(got).toEqual(truth);
      expect(got!.counts.done).toBe(2);
    }
    await unlink(layout.listingCache);
    await mkdir(layout.listingCache);
    const [got, truth] = shownAndTruth(5);
    expect(got).toEqual(truth);
  });
});

type Step =
  | { kind: 'place'; state: FinishedState; id: string; mtime: number }
  | { kind: 'remove'; state: FinishedState; id: string }
  | { kind: 'age' }
  | { kind: 'status'; last: number; only: string[] | null };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('place' as const),
    state: fc.constantFrom(...FINISHED_STATES),
    id: fc.constantFrom('a', 'b', 'c', 'd'),
    mtime: fc.integer({ min: 1, max: 5 }),
  }),
  fc.record({ kind: fc.constant('remove' as const), state: fc.constantFrom(...FINISHED_STATES), id: fc.constantFrom('a', 'b', 'c', 'd') }),
  fc.constant({ kind: 'age' as const }),
  fc.record({
    kind: fc.constant('status' as const),
    last: fc.integer({ min: 0, max: 3 }),
    only: fc.option(fc.subarray(['a', 'b', 'c', 'd'])), // a Claude session's own jobs
  }),
);

describe('spool/listing.cache, property', () => {
  it('status shows what an lstat of every file says after any places, removals, quiet spells and status runs (of all jobs or of a session)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 25 }), async (steps) => {
        await rm(layout.spool, { recursive: true, force: true });
        await ensureSpool(layout);
        for (const s of steps) {
          if (s.kind === 'place') await place(s.state, s.id, s.mtime);
          else if (s.kind === 'remove') await unlink(layout.job(s.state, s.id)).catch(ifMissing(undefined));
          else if (s.kind === 'age') await age();
          else {
            const [got, truth] = shownAndTruth(s.last, s.only && new Set(s.only));
            expect(got).toEqual(truth);
          }
        }
        const [got, truth] = shownAndTruth(2);
        expect(got).toEqual(truth);
      }),
      { numRuns: 150 },
    );
  });
});
