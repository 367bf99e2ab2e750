// The worker's queue is kept between scans (a peek per queued file, read again only when the file changes):
// these tests change queued files behind its back — while it is paused (SIGSTOP), or where no watch event
// names the change (deferred/, --poll) — and check that it decides on what the files hold now. The real
// worker as a child process, the fake Codex.
import { readdirSync } from 'node:fs';
import { appendFile, mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  cli,
  cliPath,
  endSpoolTest,
  fakeCodex,
  fakeCodexSpool,
  jobsIn,
  projectRoot,
  readIfExists,
  runningMeta,
  startWorker,
  waitFor,
  waitForFinished,
  type TempRoot,
  type WorkerProcess,
} from './helpers/spool-env.js';
import { procStat } from '../src/util/process-group.js';

let t: TempRoot;
let repo: string;
let calls: () => Promise<string[]>;
let runs = 0;

beforeEach(async () => ({ t, repo, calls } = await fakeCodexSpool()));
afterEach(() => endSpoolTest(t));

const dir = (state: string) => join(t.root, 'spool', state);
/** Writes a job file the way submit and the worker do: aside, then renamed into place (a new inode). */
const place = async (state: string, id: string, job: object) => {
  await mkdir(dir(state), { recursive: true });
  await writeFile(join(dir(state), `.${id}.tmp`), JSON.stringify(job));
  await rename(join(dir(state), `.${id}.tmp`), join(dir(state), `${id}.json`));
};
/** A job as the worker queues it again in deferred/ (what another worker's requeue writes). */
const deferred = (task: string, notBefore: number) => ({
  repo,
  task,
  queued_at: 1,
  attempts: 1,
  not_before: new Date(notBefore).toISOString(),
});
/** Runs `change` while the worker is stopped, so that no scan of it can fall in between. */
const whilePaused = async (w: WorkerProcess, change: () => Promise<unknown>) => {
  w.child.kill('SIGSTOP');
  try {
    await change();
  } finally {
    w.child.kill('SIGCONT');
  }
};
const isAlive = (pid: number) => {
  try {
    return process.kill(pid, 0);
  } catch {
    return false;
  }
};
/** A live process in group `pgid`: not a zombie (one killed is left unreaped where init does not reap). */
const groupLive = (pgid: number) =>
  readdirSync('/proc').some((p) => {
    const st = /^\d+$/.test(p) ? procStat(Number(p)) : null;
    return st?.pgrp === pgid && st.state !== 'Z';
  });
/** A job on a repo of its own run to its end: the scans since it was written have listed the queue. */
const sentinel = async (id: string) => {
  await place('inbox', id, { repo: await t.repo(id), task: id });
  expect((await waitForFinished(t, id, 20_000)).state).toBe('done');
};

describe('deferred/ changed behind the worker', () => {
  it('a deferred job cancelled and retried between two scans runs at once, not at the old not_before', async () => {
    await place('deferred', 'x', deferred('later', Date.now() + 3_600_000));
    const w = startWorker(t, ['--rescan-ms', '200']);
    await sentinel('s1'); // the worker has read deferred/x.json: due in an hour
    await whilePaused(w, async () => {
      expect((await cli(t, ['cancel', 'x'])).code).toBe(0);
      expect((await cli(t, ['retry', 'x'])).code).toBe(0);
    });
    expect((await waitForFinished(t, 'x', 20_000)).state).toBe('done');
    await w.stop();
  });

  it('a deferred job queued again with a later not_before (by another worker) does not run before it', async () => {
    const due = Date.now() + 1_000;
    await place('deferred', 'x', deferred('soon', due));
    const w = startWorker(t, ['--rescan-ms', '200']);
    await sentinel('s1'); // the worker has read deferred/x.json: due in a second
    await whilePaused(w, async () => {
      await place('deferred', 'x', deferred('in an hour', Date.now() + 3_600_000));
      await waitFor('the old not_before passed', () => Date.now() > due + 100);
    });
    await sentinel('s2'); // scans after the old not_before
    expect(await jobsIn(t, 'deferred')).toEqual(['x.json']);
    expect((await calls()).join('\n')).not.toContain('in an hour');
    await w.stop();
  });
});

describe('--poll: a queued file rewritten in place (no event names it)', () => {
  // a and b wait for one repo; a's priority is rewritten (same inode) once both are read. Whichever way it
  // moves, the job that ranks first by what the files hold when the repo frees runs first: the repo frees
  // on the cancel a tick honours, and with --poll each tick looks at every queued file again.
  it('a priority changed after the first read is obeyed, raised or lowered', async () => {
    const priority = fc.integer({ min: -2, max: 2 });
    // One worker for every run: each run's jobs have ids of their own, and all of them end before the next.
    const w = startWorker(t, ['--poll', '100', '--rescan-ms', '200']); // the tick honours the cancel below
    await fc.assert(
      fc.asyncProperty(priority, priority, priority, async (before, after, b) => {
        const block = `block${++runs}`;
        await place('inbox', block, { repo, task: 'hang' });
        await waitFor(`${block} running`, async () => (await jobsIn(t, 'active')).includes(`${block}.json`));
        await place('inbox', `a${runs}`, { repo, task: `a${runs}`, priority: before });
        await place('inbox', `b${runs}`, { repo, task: `b${runs}`, priority: b });
        await sentinel(`s${runs}`); // a and b are read, and wait for the repo
        await writeFile(join(dir('inbox'), `a${runs}.json`), JSON.stringify({ repo, task: `a${runs}`, priority: after }));
        expect((await cli(t, ['cancel', block])).code).toBe(0);
        await Promise.all([`a${runs}`, `b${runs}`].map((id) => waitForFinished(t, id, 20_000)));
        const ran = (await calls()).map((c) => c.split(' -- ')[1]).filter((task) => task === `a${runs}` || task === `b${runs}`);
        // On a tie b first: a's place is the time it was last written (its ctime).
        expect(ran).toEqual(after > b ? [`a${runs}`, `b${runs}`] : [`b${runs}`, `a${runs}`]);
      }),
      {
        numRuns: 6,
        examples: [
          [2, -1, 0],
          [1, 2, 0],
        ],
      },
    );
    await w.stop();
  });
});

describe('--poll: a half-written inbox file', () => {
  it('one still being written is judged by its last write, not by the first one the worker saw', async () => {
    const w = startWorker(t, ['--poll', '100', '--rescan-ms', '3600000', '--reject-after-ms', '4000']);
    await sentinel('s1');
    const path = join(dir('inbox'), 'slow.json');
    const t0 = Date.now();
    await writeFile(path, `{"repo": ${JSON.stringify(repo)},`);
    await sentinel('s2'); // the listing that found s2 read slow.json: not JSON yet
    // Each write 2 s or so after the one before, without an event (a write does not change the directory).
    await waitFor('2 s after the first write', () => Date.now() > t0 + 2_000);
    await appendFile(path, ' "task": "slow"');
    await waitFor('4.6 s after the first write', () => Date.now() > t0 + 4_600);
    await appendFile(path, '}');
    expect((await waitForFinished(t, 'slow', 20_000)).state).toBe('done');
    await w.stop();
  });
});

describe('stopping', () => {
  it('SIGTERM in mid-scan: the worker claims nothing more, so no job gets a run (and an attempt) it never had', async () => {
    await place('inbox', 'x', { repo, task: 'x' });
    const marker = join(t.dir, 'held');
    t.env.NODE_OPTIONS = `--import ${join(projectRoot, 'test', 'fixtures', 'hold-inbox-reads.mjs')}`;
    t.env.HOLD_INBOX_READS_MARKER = marker;
    const w = startWorker(t);
    await waitFor('the first scan reading x.json', () => readIfExists(marker).then((m) => m !== null));
    expect(await w.stop('SIGTERM')).toBe(0);
    expect(w.log()).not.toMatch(/^started /m);
    expect(await jobsIn(t, 'inbox')).toEqual(['x.json']);
    expect(await calls()).toEqual([]);
  });

  it('SIGHUP (its terminal closed) stops the worker as SIGTERM does: its Codex stopped, the job queued again', async () => {
    const w = startWorker(t);
    await place('inbox', 'x', { repo, task: 'hang' });
    const meta = await runningMeta(t, 'x');
    expect(await w.stop('SIGHUP')).toBe(0);
    expect(await jobsIn(t, 'deferred')).toEqual(['x.json']);
    await waitFor("Codex's group gone", () => !groupLive(meta.pid), 5_000);
  });

  it('a worker whose log reader is gone (its pipe closed) still runs jobs and stops on SIGTERM', async () => {
    const w = startWorker(t);
    for (const out of [w.child.stdout, w.child.stderr]) out?.destroy(); // its next log line meets EPIPE
    await place('inbox', 'x', { repo, task: 'x' });
    expect((await waitForFinished(t, 'x', 20_000)).state).toBe('done');
    expect(await w.stop('SIGTERM')).toBe(0);
  });

  it('a worker whose terminal hangs up stops cleanly, not spinning on its log (util-linux script gives it a pty)', async () => {
    const worker = `exec node '${cliPath}' worker --codex-bin '${fakeCodex}'`;
    const term = execa('setsid', ['script', '-qfc', worker, '/dev/null'], { env: t.env, reject: false, stdin: 'ignore' });
    let pid = 0;
    try {
      await place('inbox', 'x', { repo, task: 'hang' });
      const meta = await runningMeta(t, 'x');
      pid = (await waitFor('heartbeat', async () => (await readdir(dir('workers'))).map((n) => Number(/-(\d+)\.json$/.exec(n)?.[1]))[0]))!;
      term.kill('SIGKILL'); // the terminal's owner dies: the pty hangs up
      await waitFor('x queued again', async () => (await jobsIn(t, 'deferred')).includes('x.json'), 20_000);
      await waitFor('the worker gone', () => !isAlive(pid), 20_000);
      await waitFor("Codex's group gone", () => !groupLive(meta.pid), 5_000);
    } finally {
      if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL');
      await term;
    }
  });
});
