// Chaos 8: two "hosts" on one spool over a real network file system. Host A works on the spool's local
// directory (or through an sshfs mount of its own), host B only through an sshfs mount served by a
// test-owned sshd on 127.0.0.1: SFTP, second-granular mtimes, other inode numbers, and sshfs's and the
// kernel's attribute and directory caches. Each host's workers run in a PID namespace of its own (and a host
// name of its own): neither host sees the other's processes, so a Codex left running by a killed worker
// is known to the other host only through the spool. Polling workers on each host; the repos are at one
// path for both (as the README asks). Per mount setup: pickup latency with --poll, jobs/s across hosts,
// then, on one host and then on the other, SIGKILL of a worker whose Codex runs on past the lock stale
// time and SIGSTOP of the host's other workers past it, so that each host takes over the other's stale
// locks and must wait for the other's Codex. Judged by the Codex stand-in's own log: no two runs at once in
// one working tree or session, no run after a success, every job in exactly one final state; and every
// worker exits 0 when stopped. MULTIHOST_JOBS scales the first case's throughput phase (default 300).
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killStarted, readIfExists, waitFor, type TempRoot } from '../helpers/spool-env.js';
import { readRunLog } from '../helpers/run-log.js';
import {
  DEFAULT_MOUNT,
  UNCACHED_MOUNT,
  fuseUnavailable,
  startPidHost,
  startSshfsBed,
  type HostWorker,
  type PidHost,
  type SshfsBed,
} from '../helpers/sshfs-bed.js';
import { CHAOS, FINAL, STATES, census, endChaosTest, makeRepos, type State } from './fixtures/chaos-kit.js';
import { expectDrained, modelCodex, modelRoot, submitBatch, taskOf, waitAllFinal } from './fixtures/model-kit.js';

const FULL_JOBS = Number(process.env.MULTIHOST_JOBS ?? 300);
const PICKUPS = 2; // each up to 20 s on sshfs's default mount (its directory cache)
/** The claim lock's stale time (src/spool/lock.ts LOCK_STALE_MS): a stopped worker is held past it. */
const STALE_MS = 10_000;
/** The first run of a long fault-phase job: it outlives its killed worker by more than STALE_MS. */
const LONG_S = 16;
// The worker's defaults except shorter stop and retry pauses: recovery comes from the 2 s rescan.
const ARGS = ['--poll', '100', '--concurrency', '2', '--grace-ms', '500', '--retry-delay-ms', '200'];

const noFuse = fuseUnavailable();
if (CHAOS && noFuse) console.log(`[chaos] multihost: SKIPPED, ${noFuse}`);

let bed: SshfsBed | null = null;
let hosts: PidHost[] = [];
afterEach(async () => {
  await killStarted(); // the workers first, then the mounts they use, then the temp roots (never through a mount)
  await Promise.all(hosts.splice(0).map((h) => h.close()));
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
  /** Its processes: a PID namespace of its own. */
  pids: PidHost;
  /** The workers running now. */
  workers: HostWorker[];
  /** Every worker ever started on this host (killed ones too), for the logs. */
  started: HostWorker[];
}

/** Starts one more worker on host `h`. */
async function add(h: Host): Promise<HostWorker> {
  const w = await h.pids.startWorker(h.view, ARGS, modelCodex);
  h.workers.push(w);
  h.started.push(w);
  return w;
}
const up = (h: Host) => waitFor(`host ${h.name} workers up`, () => h.workers.every((w) => w.log().includes('concurrency')), 30_000);
const logs = (h: Host) => h.started.map((w) => w.log()).join('');
const count = (text: string, re: RegExp) => (text.match(re) ?? []).length;

/** The job of a run of worker `w` under way whose Codex has read its task (it reported its session), one of `ids`. */
async function runUnderWay(t: TempRoot, w: HostWorker, ids: Set<string>): Promise<string | null> {
  const ended = new Set([...w.log().matchAll(/^(?:done|failed|deferred|interrupted|lost the claim of) (\S+)/gm)].map((m) => m[1]));
  for (const [, id, run] of w.log().matchAll(/^started (\S+) run (\S+)/gm)) {
    const meta = ended.has(id) || !ids.has(id!) ? null : await readIfExists(join(t.root, 'runs', run!, 'meta.json'));
    if (meta && (JSON.parse(meta) as { session_id: string | null }).session_id) return id!;
  }
  return null;
}

describe.skipIf(!CHAOS || noFuse)('chaos: two hosts on one spool over sshfs', () => {
  // The first case at full scale (3 + 3 workers, FULL_JOBS jobs); the others check their mounts at 2 + 2 and 100.
  const cases = [
    { name: 'A local + B sshfs, caches off', bothMounted: false, options: UNCACHED_MOUNT, perHost: 3, jobs: FULL_JOBS },
    { name: 'A and B each through sshfs, caches off', bothMounted: true, options: UNCACHED_MOUNT, perHost: 2, jobs: 100 },
    { name: 'A local + B sshfs, sshfs defaults', bothMounted: false, options: DEFAULT_MOUNT, perHost: 2, jobs: 100 },
  ];
  it.each(cases)(
    '$name: each job once, one Codex per tree and session, through kills and pauses on either host',
    async ({ name, bothMounted, options, perHost, jobs }) => {
      const { t, log } = await modelRoot();
      bed = await startSshfsBed(join(t.dir, 'sshd'));
      const mountB = join(t.dir, 'host-b');
      await bed.mount(t.root, mountB, options);
      let rootA = t.root;
      if (bothMounted) {
        rootA = join(t.dir, 'host-a');
        await bed.mount(t.root, rootA, options);
      }
      hosts = await Promise.all([startPidHost('host-a'), startPidHost('host-b')]); // after the mounts: they see them
      const A: Host = { name: 'A', view: hostView(t, 'a', rootA), pids: hosts[0]!, workers: [], started: [] };
      const B: Host = { name: 'B', view: hostView(t, 'b', mountB), pids: hosts[1]!, workers: [], started: [] };
      await Promise.all([A, B].map((h) => mkdir(h.view.dir)));
      // More repos than the slots of one host (3 workers × 2): else one host holds every tree and the other idles.
      const repos = await makeRepos(t, 12);
      const ids: string[] = [];
      const batch = (host: Host, prefix: string, n: number, words: (i: number) => string, trees = repos.length) => {
        const list = Array.from({ length: n }, (_, i) => ({
          id: `${prefix}-${String(i).padStart(3, '0')}`,
          repo: repos[i % trees]!,
          words: words(i),
        }));
        ids.push(...list.map((j) => j.id));
        return submitBatch(host.view, list);
      };
      // Waits until the jobs are final; if they are not, shows what the workers said (the test then fails).
      const allFinal = async (list: string[], ms: number) => {
        const done = await waitAllFinal(t, list, ms);
        if (!done) {
          const c = await census(t);
          const left = (s: State) => c[s].filter((id) => list.includes(id));
          // Every state each such job is in: one in two states (done + rejected) is no more final than a queued one.
          const where = list.map((id) => [id, STATES.filter((s) => c[s].includes(id)).join('+') || 'nowhere'] as const);
          const notFinal = Object.fromEntries(where.filter(([, s]) => !(FINAL as readonly string[]).includes(s)));
          console.log(`[chaos] multihost ${name}: not final: ${JSON.stringify(notFinal)}`);
          for (const id of left('active'))
            console.log(
              `[chaos]   active/${id}.json: ${await readFile(join(t.root, 'spool', 'active', `${id}.json`), 'utf8').catch((e: Error) => e.message)}`,
            );
          console.log(`[chaos]   active/ holds: ${(await readdir(join(t.root, 'spool', 'active')).catch(() => [])).join(' ')}`);
        }
        if (!done)
          for (const h of [A, B])
            console.log(
              `[chaos] multihost ${name}: host ${h.name}, each worker's log ends:\n${h.started.map((w) => w.log().slice(-1500)).join('\n--\n')}`,
            );
        return done;
      };
      const addWorkers = async (h: Host) => {
        while (h.workers.length < perHost) await add(h);
        await up(h);
      };

      // 1. Pickup with --poll: host B's workers alone, a job written on host A (temp file + rename).
      await addWorkers(B);
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
        expect(await allFinal([id], 30_000)).toBe(true);
      }

      // 2. Throughput: the workers of both hosts, jobs submitted half on each host.
      await addWorkers(A);
      const fastStart = Date.now();
      await Promise.all([batch(A, 'fa', jobs / 2, () => 'sleep=0.05'), batch(B, 'fb', jobs / 2, () => 'sleep=0.05')]);
      const fast = ids.filter((id) => id.startsWith('f'));
      expect(await allFinal(fast, 180_000)).toBe(true);
      const fastSeconds = (Date.now() - fastStart) / 1000;
      const doneBy = (h: Host) => count(logs(h), /^done f[ab]-/gm);

      // 3. Faults on one host, then the other. The other host's workers are stopped while the victim's take
      // the jobs (they are idle: they hold no lock), so the victim has runs under way; every third job's
      // first run is long. Then a victim worker with a long run under way is SIGKILLed (its Codex runs on
      // for more than the stale time, unseen by the other host's /proc) and the victim's other workers are
      // SIGSTOPped past the stale time: only the other host is left to take over their locks, and it must
      // not start a run in a tree or session whose Codex still runs on the victim host.
      const faults: Record<string, unknown> = {};
      const outlived: { job: string; killedAt: number }[] = [];
      for (const [victim, other] of [
        [A, B],
        [B, A],
      ] as const) {
        expect(await allFinal(ids, 60_000)).toBe(true); // every worker idle
        for (const w of other.workers) w.kill('SIGSTOP');
        const prefix = `x${victim.name.toLowerCase()}`;
        // On 4 trees: each long job shares its tree with two short ones, which must wait for it.
        await batch(
          victim,
          prefix,
          12,
          (i) => (i % 3 === 0 ? `sleep=0.5 firstsleep=${LONG_S}` : `sleep=${(1 + (i % 4) * 0.5).toFixed(1)}`),
          4,
        );
        const long = new Set(ids.filter((id) => id.startsWith(`${prefix}-`) && Number(id.slice(-3)) % 3 === 0));
        const [killed, job] = await waitFor(
          `a long run under way on host ${victim.name}`,
          async () => {
            for (const w of victim.workers) {
              const id = await runUnderWay(t, w, long);
              if (id) return [w, id] as const;
            }
            return null;
          },
          40_000,
        );
        for (const w of other.workers) w.kill('SIGCONT');
        killed.kill('SIGKILL');
        const paused = victim.workers.filter((w) => w !== killed);
        for (const w of paused) w.kill('SIGSTOP');
        const stoppedAt = Date.now();
        outlived.push({ job, killedAt: stoppedAt * 1000 });
        const recoveredBefore = count(logs(other), /^recovered /gm);
        // The victim host stays out until the other host has filed the killed worker's long run, which it can
        // do only once that Codex has ended by itself (nothing on the other host can stop it).
        await waitFor(
          `host ${other.name} recovers ${job} of host ${victim.name}`,
          () => logs(other).includes(`\nrecovered ${job}: `),
          60_000,
        );
        for (const w of paused) w.kill('SIGCONT');
        await killed.stop('SIGKILL');
        victim.workers.splice(victim.workers.indexOf(killed), 1);
        await addWorkers(victim);
        faults[`recoveredBy${other.name}`] = count(logs(other), /^recovered /gm) - recoveredBefore;
        faults[`pausedFor${victim.name}S`] = ((Date.now() - stoppedAt) / 1000).toFixed(1);
      }

      const audit = await expectDrained(
        t,
        log,
        ids,
        120_000,
        `multihost ${name}`,
        {
          mount: options.join(',') || 'defaults',
          workersPerHost: perHost,
          pickupMs: pickupsMs.map((ms) => ms.toFixed(0)).join('/'),
          fastJobs: fast.length,
          fastSeconds: fastSeconds.toFixed(1),
          jobsPerSecond: (fast.length / fastSeconds).toFixed(1),
          doneOnA: doneBy(A),
          doneOnB: doneBy(B),
          ...faults,
        },
        hosts.map((h) => h.proc),
      ).catch(async (err: unknown) => {
        // What each host's workers said of the fault phase's jobs, to read a violation by.
        for (const h of [A, B]) {
          const lines = logs(h).match(/^.*\bx[ab]-\d{3}\b.*$/gm) ?? [];
          console.log(`[chaos] multihost ${name}: host ${h.name} on x- jobs:\n${lines.join('\n')}`);
        }
        // Where each job in two places is, and why a rejected copy was rejected.
        const c = await census(t);
        for (const id of ids.filter((i) => STATES.filter((s) => c[s].includes(i)).length > 1)) {
          const errorFile = join(t.root, 'spool', 'rejected', `${id}~duplicate.error.json`);
          console.log(`[chaos]   ${id} in ${STATES.filter((s) => c[s].includes(id)).join('+')}: ${await readIfExists(errorFile)}`);
        }
        throw err;
      });
      // The scenario held: each killed worker's Codex ran on past the stale time (the audit above then shows
      // that no run started in its tree or session meanwhile) and its run, which succeeded, was filed, not run again.
      for (const { job, killedAt } of outlived) {
        const first = audit.runs.filter((r) => r.job === job).sort((a, b) => a.start - b.start)[0];
        expect({ job, outcome: first?.outcome, outlived: (first?.end ?? 0) - killedAt > STALE_MS * 1000 }).toEqual({
          job,
          outcome: 'ok',
          outlived: true,
        });
      }
      const workers = [...A.workers, ...B.workers];
      const codes = await Promise.all(workers.map((w) => w.stop('SIGTERM')));
      for (const [i, code] of codes.entries()) {
        if (code !== 0)
          console.log(`[chaos] multihost ${name}: worker ${i} exited ${code}; its log ends:\n${workers[i]!.log().slice(-2000)}`);
      }
      expect(codes).toEqual(workers.map(() => 0)); // every worker stopped cleanly when asked
      expect(doneBy(A) > 0 && doneBy(B) > 0).toBe(true); // both hosts really took jobs
      expect(faults.recoveredByA).toBeGreaterThan(0); // each host took over the other's stale locks
      expect(faults.recoveredByB).toBeGreaterThan(0);
      expect(audit.runs.length).toBeGreaterThanOrEqual(ids.length);
    },
    300_000,
  );
});
