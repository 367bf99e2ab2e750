// Issue 9, "how to make it stay fixed": fault injection with the model test's invariants (model-kit's
// auditModel). Each fault is applied while jobs run, then removed; the queue must then drain with every
// invariant holding, and a job whose Codex run succeeded must never run again. Faults: a spool on a full
// tmpfs (ENOSPC), a worker with few open files and 2,000 queued jobs (EMFILE), an unreadable file in
// active/ and an unwritable runs/ (the worker runs as uid 65534 through setpriv, on a root that user owns,
// since root ignores mode bits), and a worker paused with SIGSTOP past the lock stale time (3 s here:
// quickLockStale; each test waits for the takeover it needs, not for a fixed time).
import { spawnSync } from 'node:child_process';
import { chmod, chown, cp, lstat, mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import {
  killStarted,
  makeSpool,
  projectRoot,
  quickLockStale,
  startWorker,
  waitFor,
  type TempRoot,
  type WorkerProcess,
} from '../helpers/spool-env.js';
import { readRunLog } from '../helpers/run-log.js';
import { isJobFileName, jobIdOf } from '../../src/spool/layout.js';
import { ifMissing } from '../../src/util/errors.js';
import { CHAOS, endChaosTest, figure, makeRepos, processState, sleep, spoolDir, writeJob } from './fixtures/chaos-kit.js';
import {
  WORKER_ARGS,
  activeLeftovers,
  expectDrained,
  killRuns,
  killWrapped,
  modelCodex,
  modelRoot,
  startWrappedWorker,
  submitBatch,
  taskOf,
  waitAllFinal,
} from './fixtures/model-kit.js';

const NOBODY = 65534;
const SLOW_REPO_LOCK = join(import.meta.dirname, 'fixtures', 'slow-repo-lock.mjs');
const CLOCK_STEP = join(import.meta.dirname, 'fixtures', 'clock-step.mjs');
const asNobody = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
const canSetpriv = process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0;
const canPrlimit = spawnSync('prlimit', ['--version']).status === 0;

/**
 * EMFILE: more queued jobs than open files (issue 9 saw it with 3,000 queued and 1,024 files). 2,000 jobs
 * drained in ~2 minutes here, but at 3-4 jobs/s when the machine was loaded; FAULTS_EMFILE_JOBS=600 for a
 * quick run.
 */
const EMFILE_JOBS = Number(process.env.FAULTS_EMFILE_JOBS ?? 2_000);
const NOFILE = 96;

const mounts: string[] = [];
const logs: string[] = [];

afterEach(async () => {
  await killWrapped();
  await killStarted();
  for (const log of logs.splice(0)) killRuns(await readRunLog(log));
  for (const dir of mounts.splice(0)) await execa('umount', ['-l', dir], { reject: false });
  await endChaosTest();
});

/** A model root whose stand-in processes are killed after the test. */
async function faultRoot(): Promise<{ t: TempRoot; log: string }> {
  const r = await modelRoot();
  logs.push(r.log);
  return r;
}

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);

/** Mounts a tmpfs of `size` on `dir`; false if this machine does not let us. */
async function mountTmpfs(dir: string, size: string): Promise<boolean> {
  const r = await execa('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { reject: false });
  if (r.exitCode !== 0) return false;
  mounts.push(dir);
  return true;
}

/** Writes into `dir` until the file system is full; returns the filler file (remove it to free the space). */
async function fillUp(dir: string): Promise<string> {
  const path = join(dir, '.filler');
  const fh = await open(path, 'a');
  try {
    for (const chunk of [65536, 4096, 512, 1]) {
      const bytes = Buffer.alloc(chunk);
      for (;;) await fh.write(bytes);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await fh.close();
  }
  return path;
}

describe.skipIf(!CHAOS)('faults: the file system fails, then recovers', () => {
  // fails on main: 2 jobs still in active/ 60 s after the space is back (their claims never released)
  // Was flaky (0 of 4 runs passed here at 91732a0): a job that reached 6 set-backs while the disk was full was
  // given up, the filing of its failure threw ENOSPC, and giveUp kept the claim it had taken: the live worker
  // refreshed that lock for ever, so no recovery pass took the job back after the space returned.
  it('ENOSPC: the spool on a 1 MB tmpfs fills up during runs and a worker restart; once space is back, the queue drains', async (ctx) => {
    const { t, log } = await faultRoot();
    if (!(await mountTmpfs(t.root, '1m'))) return ctx.skip('cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)');
    await makeSpool(t.root); // the mount hid the one made with the root
    await quickLockStale(t);
    const repos = await makeRepos(t, 3);
    const jobs = ids('n', 24);
    await submitBatch(
      t,
      jobs.map((id, i) => ({ id, repo: repos[i % repos.length]!, words: 'sleep=0.3' })),
    );
    let worker = startWorker(t, WORKER_ARGS, modelCodex);
    await waitFor('three runs', async () => (await readRunLog(log)).length >= 3, 20_000);
    const filler = await fillUp(t.root);
    await sleep(3_000); // runs end and start on a full disk
    await worker.stop('SIGKILL');
    const orphans = (await readdir(spoolDir(t, 'active'))).filter(isJobFileName).map(jobIdOf);
    worker = startWorker(t, WORKER_ARGS, modelCodex);
    // Recovery too runs on a full disk: the new worker takes an orphan over once its lock is stale, and
    // recovers it or is set back by the full disk.
    const triedOrphan = (id: string) => worker.log().includes(`recovered ${id}:`) || worker.log().includes(`error ${id}.json:`);
    await waitFor('a recovery on the full disk', () => orphans.length === 0 || orphans.some(triedOrphan), 30_000);
    await rm(filler);
    await expectDrained(t, log, jobs, 60_000, 'ENOSPC on a 1 MB tmpfs', { workerAlive: worker.child.exitCode === null });
  }, 150_000);

  // Fails without its fix: the worker exited 1 at its first heartbeat (ENOSPC), and systemd's unit gives up after
  // 5 such starts in 5 minutes, so a full disk at a (re)start left the queue without a worker once space was back.
  it('ENOSPC at start: a worker started on a full spool stays up; once space is back, the queue drains', async (ctx) => {
    const { t, log } = await faultRoot();
    if (!(await mountTmpfs(t.root, '1m'))) return ctx.skip('cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)');
    await makeSpool(t.root); // the mount hid the one made with the root
    const repos = await makeRepos(t, 2);
    const jobs = ids('s', 4);
    await submitBatch(
      t,
      jobs.map((id, i) => ({ id, repo: repos[i % repos.length]!, words: '' })),
    );
    const filler = await fillUp(t.root);
    const worker = startWorker(t, WORKER_ARGS, modelCodex);
    await waitFor(
      'a claim refused by the full disk',
      () => / ENOSPC: .*\(try 1; /.test(worker.log()) || worker.child.exitCode !== null,
      20_000,
    );
    const aliveOnFullDisk = worker.child.exitCode === null;
    await rm(filler);
    await expectDrained(t, log, jobs, 30_000, 'ENOSPC at start', { aliveOnFullDisk });
    expect(aliveOnFullDisk).toBe(true);
  }, 90_000);

  // fails on main: the limited worker dies (unhandled spawn EMFILE); then 2 jobs whose run succeeded run again
  it(`EMFILE: ${EMFILE_JOBS} queued jobs and a worker limited to ${NOFILE} open files; without the limit the rest drains`, async (ctx) => {
    if (!canPrlimit) return ctx.skip('needs prlimit (util-linux) to start the worker with a low open-files limit');
    const { t, log } = await faultRoot();
    const repos = await makeRepos(t, 16);
    const jobs = ids('e', EMFILE_JOBS);
    await submitBatch(
      t,
      jobs.map((id, i) => ({ id, repo: repos[i % repos.length]!, words: '' })),
    );
    // The default rescan interval: a fast one re-reads the whole queue every time.
    const args = ['--concurrency', '4', '--grace-ms', '500'];
    const limited = startWrappedWorker(t, ['prlimit', `--nofile=${NOFILE}:${NOFILE}`], args);
    const exited = limited.child.then(() => false);
    const drainedUnderLimit = await Promise.race([waitAllFinal(t, jobs, 300_000), exited]);
    const aliveUnderLimit = limited.child.exitCode === null;
    if (!aliveUnderLimit) console.log(`[chaos] EMFILE: the limited worker died:\n${limited.log().slice(-1500)}`);
    await limited.stop('SIGTERM');
    startWorker(t, args, modelCodex); // the fault removed
    await expectDrained(t, log, jobs, 300_000, `EMFILE, ${EMFILE_JOBS} jobs, nofile ${NOFILE}`, { aliveUnderLimit, drainedUnderLimit });
    expect({ aliveUnderLimit, drainedUnderLimit }).toEqual({ aliveUnderLimit: true, drainedUnderLimit: true });
  }, 660_000);
});

/**
 * A model root owned by uid 65534, with `n` repos, and `start`, which runs a worker as that user: from copies
 * of dist/ and the stand-in in the root's temp dir, since the clone itself may be where that user cannot go
 * (a clone in a `mktemp -d` directory, mode 0700).
 */
async function nobodyRoot(n: number) {
  const { t, log } = await faultRoot();
  const repos = await makeRepos(t, n);
  await mkdir(join(t.root, 'runs'), { recursive: true, mode: 0o700 });
  await writeFile(log, '');
  const pkg = join(t.dir, 'pkg');
  await cp(join(projectRoot, 'dist'), join(pkg, 'dist'), { recursive: true, filter: (src) => !src.endsWith('.cache') });
  await cp(join(projectRoot, 'package.json'), join(pkg, 'package.json'));
  await cp(modelCodex, join(pkg, 'model-codex'));
  await chmod(t.dir, 0o755); // mkdtemp's 0700 would keep the user out
  await execa('chown', ['-R', `${NOBODY}:${NOBODY}`, t.dir]);
  const bins = { cli: join(pkg, 'dist', 'cli.js'), codex: join(pkg, 'model-codex') };
  const start = (args: string[] = WORKER_ARGS) => startWrappedWorker(t, asNobody, args, bins);
  return { t, log, repos, start };
}

describe.skipIf(!CHAOS)('faults: permissions (the worker runs as uid 65534 through setpriv)', () => {
  // fails on main: the unreadable file stops each recovery pass: orphans x1, x2 still in active/ after 45 s
  it('an unreadable file in active/ does not stop the recovery of the orphans beside it', async (ctx) => {
    if (!canSetpriv) return ctx.skip('needs root and setpriv to run the worker as another user (mode bits do not stop root)');
    const { t, log, repos, start } = await nobodyRoot(2);
    const jobs = ['x1', 'x2'];
    for (const [i, id] of jobs.entries()) await writeJob(t, id, { repo: repos[i], task: taskOf(id, 'firstsleep=30') });
    let worker = start();
    await waitFor('both runs started', async () => (await readRunLog(log)).length === 2, 20_000);
    await worker.stop('SIGKILL'); // x1 and x2 are now orphans in active/
    const bad = join(spoolDir(t, 'active'), 'a-unreadable.json'); // sorts before them
    await writeFile(bad, '{}', { mode: 0o000 });
    await chown(bad, NOBODY, NOBODY);
    worker = start();
    await expectDrained(t, log, jobs, 45_000, 'unreadable file in active/', { workerAlive: worker.child.exitCode === null });
  }, 90_000);

  it('an unwritable runs/ for 3 s: the worker survives, then the queue drains', async (ctx) => {
    if (!canSetpriv) return ctx.skip('needs root and setpriv to run the worker as another user (mode bits do not stop root)');
    const { t, log, repos, start } = await nobodyRoot(2);
    const jobs = ids('y', 4);
    for (const [i, id] of jobs.entries()) await writeJob(t, id, { repo: repos[i % 2], task: taskOf(id, '') });
    await chmod(join(t.root, 'runs'), 0o500);
    const worker = start();
    await sleep(3_000); // the fault lasts 3 s
    const aliveDuringFault = worker.child.exitCode === null;
    await chmod(join(t.root, 'runs'), 0o700);
    await expectDrained(t, log, jobs, 30_000, 'runs/ unwritable for 3 s', { aliveDuringFault });
    expect(aliveDuringFault).toBe(true);
  }, 60_000);

  it('runs/ and deferred/ both unwritable for good: each job is failed with the error after bounded tries, nothing left behind', async (ctx) => {
    if (!canSetpriv) return ctx.skip('needs root and setpriv to run the worker as another user (mode bits do not stop root)');
    const { t, log, repos, start } = await nobodyRoot(1);
    const jobs = ['w1', 'w2'];
    for (const id of jobs) await writeJob(t, id, { repo: repos[0], task: taskOf(id, '') });
    await chmod(join(t.root, 'runs'), 0o500);
    await chmod(join(t.root, 'spool', 'deferred'), 0o500);
    const worker = start([...WORKER_ARGS, '--retry-delay-ms', '50']);
    await expectDrained(t, log, jobs, 45_000, 'runs/ and deferred/ unwritable', { workerAlive: worker.child.exitCode === null });
    for (const id of jobs) {
      const failed = JSON.parse(await readFile(join(t.root, 'spool', 'failed', `${id}.json`), 'utf8'));
      expect(failed.result.error).toMatch(/could not be handled after \d+ tries: EACCES/);
    }
  }, 90_000);

  // fails at 91732a0: giving the job up, the worker could not write failed/ either and kept the claim it had
  // taken for that, refreshing its lock for ever: the job stayed in active/ after the directories came back.
  it('runs/, deferred/ and failed/ unwritable until the worker fails to give a job up: once writable, the job ends', async (ctx) => {
    if (!canSetpriv) return ctx.skip('needs root and setpriv to run the worker as another user (mode bits do not stop root)');
    const { t, log, repos, start } = await nobodyRoot(1);
    const dirs = [join(t.root, 'runs'), ...['deferred', 'failed'].map((s) => join(t.root, 'spool', s))];
    await writeJob(t, 'g1', { repo: repos[0], task: taskOf('g1', '') });
    for (const dir of dirs) await chmod(dir, 0o500);
    const worker = start([...WORKER_ARGS, '--retry-delay-ms', '50']);
    await waitFor('a give-up that could not be filed', () => worker.log().includes('cannot file its failure either'), 30_000);
    for (const dir of dirs) await chmod(dir, 0o700);
    await expectDrained(t, log, ['g1'], 45_000, 'failed/ unwritable while giving up', { workerAlive: worker.child.exitCode === null });
  }, 90_000);

  // fails on main: --once exits 0 with both jobs left in active/
  it('`worker --once` with an unwritable runs/ exits leaving nothing in active/; once writable, the queue drains', async (ctx) => {
    if (!canSetpriv) return ctx.skip('needs root and setpriv to run the worker as another user (mode bits do not stop root)');
    const { t, log, repos, start } = await nobodyRoot(1);
    const jobs = ['z1', 'z2'];
    for (const id of jobs) await writeJob(t, id, { repo: repos[0], task: taskOf(id, '') });
    const once = async () => {
      const w = start([...WORKER_ARGS, '--once']);
      return Promise.race([w.child.then((r) => r.exitCode), sleep(30_000).then(() => 'still running after 30 s')]);
    };
    await chmod(join(t.root, 'runs'), 0o500);
    const firstExit = await once();
    const leftInActive = await activeLeftovers(t);
    await chmod(join(t.root, 'runs'), 0o700);
    const secondExit = await once();
    figure('--once with runs/ unwritable', { firstExit, leftInActive, secondExit });
    expect({ firstExit: typeof firstExit, leftInActive }).toEqual({ firstExit: 'number', leftInActive: [] });
    await expectDrained(t, log, jobs, 30_000, '--once after runs/ writable again');
  }, 90_000);
});

describe.skipIf(!CHAOS)('faults: a worker paused (SIGSTOP) past the lock stale time while another runs', () => {
  const pausedPastStaleTime = async (words: string) => {
    const { t, log } = await faultRoot();
    await quickLockStale(t);
    const repos = await makeRepos(t, 3);
    const jobs = ['p1', 'p2', ...ids('q', 6)];
    await writeJob(t, 'p1', { repo: repos[0], task: taskOf('p1', words) });
    await writeJob(t, 'p2', { repo: repos[1], task: taskOf('p2', words) });
    const a: WorkerProcess = startWorker(t, WORKER_ARGS, modelCodex);
    await waitFor('p1 and p2 running', async () => (await readRunLog(log)).length === 2, 20_000);
    for (const [i, id] of jobs.slice(2).entries()) await writeJob(t, id, { repo: repos[i % 3], task: taskOf(id, 'sleep=0.2') });
    const b = startWorker(t, WORKER_ARGS, modelCodex);
    a.child.kill('SIGSTOP');
    // Past the stale time b takes each of a's claims over: it recovers the job, or (a run that ended during the
    // pause, its Codex a zombie a cannot reap, still counts as alive) leaves it in active/ and lets the lock go.
    const takenOver = async (id: string) =>
      b.log().includes(`recovered ${id}:`) || (await lstat(join(spoolDir(t, 'active'), `${id}.json.lock`)).catch(ifMissing(null))) === null;
    await waitFor("b's takeover of a's claims", async () => (await takenOver('p1')) && (await takenOver('p2')), 30_000);
    a.child.kill('SIGCONT');
    await expectDrained(t, log, jobs, 40_000, 'SIGSTOP past the stale time', {
      aAlive: a.child.exitCode === null,
      bAlive: b.child.exitCode === null,
    });
  };
  // Seen on two hosts over sshfs: a worker stopped between its claim and its run, whose job was meanwhile taken
  // over, put back and run by another, came back and queued "its" job again (the repo was busy): written over
  // the other's active file and moved to deferred/, the copy was rejected as a duplicate once the run was done.
  it('a worker stopped between its claim and its run, the job run by another meanwhile: after SIGCONT it touches nothing', async () => {
    const { t, log } = await faultRoot();
    await quickLockStale(t);
    const [repo] = await makeRepos(t, 1);
    const stopAtRepoLock = { ...t.env, NODE_OPTIONS: `--import=${SLOW_REPO_LOCK}`, SLOW_REPO_LOCK: 'stop' };
    const a = startWorker({ ...t, env: stopAtRepoLock }, WORKER_ARGS, modelCodex);
    await writeJob(t, 'x', { repo, task: taskOf('x', 'sleep=4') });
    await waitFor('a stopped at its repo lock, x claimed', () => processState(a.child.pid!) === 'T', 20_000);
    const b = startWorker(t, WORKER_ARGS, modelCodex);
    await waitFor('b took x over and runs it', async () => (await readRunLog(log)).some((r) => r.job === 'x'), 30_000);
    a.child.kill('SIGCONT');
    await expectDrained(t, log, ['x'], 30_000, 'stopped between claim and run', { aAlive: a.child.exitCode === null });
    expect(b.log()).toMatch(/^recovered x: back to inbox unchanged$/m);
    expect(a.log()).toMatch(/^lost the claim of x before it was queued again; left for recovery$/m);
  }, 90_000);
  it('runs that outlast the pause: after SIGCONT, every job final once, no overlap', () => pausedPastStaleTime('firstsleep=20'), 90_000);
  // Codex writes its events into the run's files itself: a run completed during the pause is filed from them.
  it(
    'runs that succeed during the pause: after SIGCONT, every job final once, no overlap',
    () => pausedPastStaleTime('firstsleep=2'),
    90_000,
  );
});

describe.skipIf(!CHAOS)('faults: the wall clock steps forward', () => {
  // Fails without its fix: every lock of the host looked 30 s old at once, the worker's own recovery pass took
  // its live claim over before the next refresh, and the run was stopped (interrupted) and run again to resume it.
  it('30 s forward while a job runs: its run goes on, the job is filed once, nothing runs again', async () => {
    const { t, log } = await faultRoot();
    const [repo] = await makeRepos(t, 1);
    await writeJob(t, 'c1', { repo, task: taskOf('c1', 'firstsleep=4') });
    const stepFile = join(t.dir, 'step-now');
    const stepped = { ...t.env, NODE_OPTIONS: `--import=${CLOCK_STEP}`, CLOCK_STEP_MS: '30000', CLOCK_STEP_FILE: stepFile };
    const worker = startWorker({ ...t, env: stepped }, WORKER_ARGS, modelCodex);
    await waitFor('the run started', async () => (await readRunLog(log)).length === 1, 20_000);
    await writeFile(stepFile, '');
    const audit = await expectDrained(t, log, ['c1'], 40_000, 'clock stepped 30 s forward', {
      workerAlive: worker.child.exitCode === null,
    });
    expect(audit.runs.map((r) => r.outcome)).toEqual(['ok']);
  }, 90_000);
});
