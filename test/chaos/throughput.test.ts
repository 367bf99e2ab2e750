// Chaos 1: four workers race for 1,000 jobs on one spool. Every job runs exactly once and is filed once.
import { readdir } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startWorker, waitFor, type WorkerProcess } from '../helpers/spool-env.js';
import {
  CHAOS,
  audit,
  chaosCodex,
  chaosRoot,
  endChaosTest,
  figure,
  finishedCount,
  makeRepos,
  processesInGroups,
  readCalls,
  sleep,
  spoolDir,
  tag,
  writeJob,
} from './fixtures/chaos-kit.js';

const JOBS = 1_000;
const WORKERS = 4;
const BACKLOG = 100;
const INBOX_MAX = 50;

afterEach(endChaosTest);

describe.skipIf(!CHAOS)('chaos: throughput', () => {
  it(`${WORKERS} workers × ${JOBS} jobs on one spool: each runs exactly once, 0 lost, 0 duplicated`, async () => {
    const started = Date.now();
    const { t, log } = await chaosRoot();
    const repos = await makeRepos(t, JOBS); // one repo each: no job waits for another on its repo
    const ids = Array.from({ length: JOBS }, (_, i) => `tp-${String(i).padStart(4, '0')}`);
    const job = (i: number) => ({ repo: repos[i]!, task: `${tag(ids[i]!)} quick` });

    // A backlog of BACKLOG before any worker starts, the rest streamed in while they run, the inbox kept
    // under INBOX_MAX files: every scan reads every inbox file, so a 1,000-job backlog alone takes minutes
    // (see the report: O(inbox²) reads), which is not what this test measures.
    for (let i = 0; i < BACKLOG; i++) await writeJob(t, ids[i]!, job(i));
    const workers: WorkerProcess[] = [];
    for (let w = 0; w < WORKERS; w++) workers.push(startWorker(t, ['--concurrency', '2'], chaosCodex));
    for (let i = BACKLOG; i < JOBS; i++) {
      while ((await readdir(spoolDir(t, 'inbox'))).length >= INBOX_MAX) await sleep(20);
      await writeJob(t, ids[i]!, job(i));
    }
    await waitFor('all jobs finished', async () => (await finishedCount(t)) === JOBS, 330_000);
    const runSeconds = (Date.now() - started) / 1000;

    const codes = await Promise.all(workers.map((w) => w.stop('SIGTERM')));
    expect(codes).toEqual(workers.map(() => 0));
    const calls = await readCalls(log);
    const a = await audit(t, ids, calls);
    const perJob = new Map<string, number>();
    for (const c of calls) if (c.job) perJob.set(c.job, (perJob.get(c.job) ?? 0) + 1);
    const runTwice = [...perJob].filter(([, n]) => n > 1).map(([id]) => id);
    const neverRan = ids.filter((id) => !perJob.has(id));
    const leftProcesses = processesInGroups(calls.map((c) => c.pid));
    const perWorker = workers.map((w) => (w.log().match(/^done /gm) ?? []).length);
    figure('4 workers x 1000 jobs', {
      jobs: JOBS,
      workers: WORKERS,
      calls: calls.length,
      done: a.done,
      lost: a.lost,
      duplicated: a.duplicated,
      ranTwice: runTwice,
      neverRan,
      leftover: a.leftover,
      processesLeft: leftProcesses,
      perWorker: perWorker.join('/'),
      seconds: runSeconds.toFixed(1),
    });
    expect(a.problems).toEqual([]);
    expect(a.lost).toEqual([]);
    expect(a.duplicated).toEqual([]);
    expect(a.leftover).toEqual([]);
    expect(runTwice).toEqual([]);
    expect(neverRan).toEqual([]);
    expect(a.done).toBe(JOBS);
    expect(calls).toHaveLength(JOBS);
    expect(calls.every((c) => c.resume === null)).toBe(true);
    expect(leftProcesses).toEqual([]);
    expect(perWorker.reduce((x, y) => x + y, 0)).toBe(JOBS); // each job's "done" logged by exactly one worker
  }, 360_000);
});
