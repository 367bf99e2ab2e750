// spool/finished.log with several writers at once: two workers filing jobs (each line one O_APPEND write)
// while prune rebuilds the log. Whatever interleaving: no line vouches for a wrong mtime, and status shows
// the order an lstat of every file gives.
import { lstatSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { readFinishedLog } from '../src/spool/finished-log.js';
import { listJobFiles, selectForStatus, statusSelection } from '../src/read/listing.js';
import { FINISHED_STATES, spoolLayout } from '../src/spool/layout.js';
import { cli, endSpoolTest, fakeCodexSpool, jobsIn, startWorker, type TempRoot } from './helpers/spool-env.js';

let t: TempRoot;
let repo: string;
beforeEach(async () => ({ t, repo } = await fakeCodexSpool()));
afterEach(() => endSpoolTest(t));

it('two workers filing while prune rebuilds the log: every line left vouches for the right mtime, status keeps the lstat order', async () => {
  const n = 40;
  const batch = join(t.dir, 'jobs.jsonl');
  await writeFile(batch, Array.from({ length: n }, (_, i) => `${JSON.stringify({ id: `j${i}`, repo, task: `job ${i}` })}\n`).join(''));
  expect((await cli(t, ['submit', '--batch', batch])).code).toBe(0);
  const workers = [startWorker(t, ['--once', '--concurrency', '2']), startWorker(t, ['--once', '--concurrency', '2'])];
  const ended = Promise.all(workers.map((w) => w.child));
  for (let done = false; !done; ) {
    expect((await cli(t, ['prune', '--older-than', '3650d', '--yes'])).code).toBe(0);
    done = await Promise.race([ended.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 50))]);
  }
  expect(await jobsIn(t, 'done')).toHaveLength(n);

  const layout = spoolLayout(t.root);
  const logged = readFinishedLog(layout);
  let vouched = 0;
  for (const state of FINISHED_STATES) {
    for (const [name, mtime] of logged[state]) {
      const st = lstatSync(join(layout.dir(state), name), { throwIfNoEntry: false });
      if (st && mtime !== null) {
        expect(mtime).toBe(st.mtimeMs);
        vouched++;
      }
    }
  }
  expect(vouched).toBeGreaterThan(0); // the log was in use, not only fallen back from
  const key = (e: { id: string; state: string }) => `${e.state}/${e.id}`;
  expect(statusSelection(layout, null, 10).shown.map(key)).toEqual(selectForStatus(listJobFiles(layout), 10).shown.map(key));
  // With no writer left, two rebuilds vouch for every job: the first leaves out names whose last line was `-`.
  for (let i = 0; i < 2; i++) expect((await cli(t, ['prune', '--older-than', '3650d', '--yes'])).code).toBe(0);
  const after = readFinishedLog(layout).done;
  expect([...after.values()].filter((m) => m !== null)).toHaveLength(n);
});
