// Where a drain's CPU goes, per job: the worker's threads (main, thread pool, V8's) and its reaped children,
// from /proc, over a drain of fast jobs (each on its own directory), after the first job has started.
//   node bench/drain-cpu.mjs [DIR[|NODE_OPTIONS]…]   after a build; DIRs: checkouts of builds to compare
//   (default this one), each with NODE_OPTIONS for its worker if given after a `|` (e.g. `.|--require
//   ./bench/sync-fs-preload.cjs`, an experiment), run interleaved, BENCH_ROUNDS [3] rounds. DRAIN_JOBS [300],
//   DRAIN_CONCURRENCY [4]; the spools go under $TMPDIR (the disk's cost of creating files is part of a job's:
//   compare builds on one directory).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { killLeftovers, removeDir, startWorker, stats, wallMs, writeFastCodex } from './lib.mjs';

const int = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt);
const JOBS = int('DRAIN_JOBS', 300);
const CONCURRENCY = int('DRAIN_CONCURRENCY', 4);
const ROUNDS = int('BENCH_ROUNDS', 3);
const BUILDS = (process.argv.length > 2 ? process.argv.slice(2) : ['.']).map((arg) => {
  const [dir, nodeOptions = ''] = arg.split('|', 2);
  return { label: arg, dir: resolve(dir), nodeOptions };
});

/** CPU ms of a process (its own threads, and its reaped children) from /proc/<pid>/stat. */
function cpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { self: (Number(f[11]) + Number(f[12])) * 10, children: (Number(f[13]) + Number(f[14])) * 10 };
}

/** CPU ms of each thread of `pid`, by thread id, the main thread (tid = pid) as `main`. */
function threadMs(pid) {
  return Object.fromEntries(
    readdirSync(`/proc/${pid}/task`).map((tid) => {
      const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
      return [Number(tid) === pid ? 'main' : tid, (Number(f[11]) + Number(f[12])) * 10];
    }),
  );
}

const T = mkdtempSync(join(tmpdir(), 'codex-spool-drain-cpu-'));
async function drain(build, round) {
  const base = join(T, `${round}-${BUILDS.indexOf(build)}`);
  const root = join(base, 'root');
  const inbox = join(root, 'spool', 'inbox');
  mkdirSync(inbox, { recursive: true, mode: 0o700 });
  for (let i = 0; i < JOBS; i++) {
    const repo = join(base, 'repos', `r${i}`);
    mkdirSync(repo, { recursive: true });
    writeFileSync(join(inbox, `j${String(i).padStart(5, '0')}.json`), `${JSON.stringify({ repo, task: 't' })}\n`);
  }
  const env = { ...process.env, NODE_OPTIONS: build.nodeOptions, HOME: base, CODEX_HOME: join(base, 'ch') };
  const w = startWorker({
    node: process.execPath,
    cli: join(build.dir, 'dist', 'cli.js'),
    root,
    codexBin: writeFastCodex(join(base, 'fast')),
    concurrency: CONCURRENCY,
    env,
  });
  try {
    if (!(await w.waitFor((x) => x.started.length >= 1, 30_000))) throw new Error('no job started');
    const [c0, th0, t0, f0] = [cpuMs(w.pid), threadMs(w.pid), wallMs(), w.finished.length];
    if (!(await w.waitFor((x) => x.finished.length >= JOBS, 300_000))) throw new Error(`${w.finished.length} of ${JOBS} filed`);
    const [c1, th1, t1] = [cpuMs(w.pid), threadMs(w.pid), wallMs()];
    const jobs = w.finished.length - f0;
    const others = Object.keys(th1)
      .filter((k) => k !== 'main')
      .reduce((sum, k) => sum + th1[k] - (th0[k] ?? 0), 0);
    return {
      jobsPerS: jobs / ((t1 - t0) / 1000),
      worker: (c1.self - c0.self) / jobs,
      main: (th1.main - th0.main) / jobs,
      otherThreads: others / jobs,
      children: (c1.children - c0.children) / jobs,
    };
  } finally {
    await w.stop();
    removeDir(base);
  }
}

try {
  const load0 = loadavg();
  const runs = BUILDS.map(() => []);
  for (let round = 0; round < ROUNDS; round++) for (const [i, build] of BUILDS.entries()) runs[i].push(await drain(build, round));
  console.log(
    `${JOBS} fast jobs at --concurrency ${CONCURRENCY} in ${tmpdir()}, ${ROUNDS} interleaved rounds, medians (ms of CPU per job)`,
  );
  console.log(
    `load average at start ${load0.map((x) => x.toFixed(2)).join(' ')}, at end ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const med = (rs, k) => stats(rs.map((r) => r[k])).median;
  for (const [i, build] of BUILDS.entries()) {
    const rs = runs[i];
    console.log(
      `${build.label}: ${med(rs, 'jobsPerS').toFixed(1)} jobs/s (${rs.map((r) => r.jobsPerS.toFixed(1)).join(', ')}); worker ${med(rs, 'worker').toFixed(1)} (main thread ${med(rs, 'main').toFixed(1)}, other threads ${med(rs, 'otherThreads').toFixed(1)}); reaped children ${med(rs, 'children').toFixed(1)}`,
    );
  }
} finally {
  await killLeftovers(T);
  removeDir(T);
}
