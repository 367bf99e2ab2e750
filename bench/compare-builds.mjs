// Compares builds of codex-spool side by side, interleaved so that load from elsewhere falls on each alike
// (separate `npm run bench` runs on a shared machine differ by more than a few fsyncs cost).
//   node bench/compare-builds.mjs LABEL=DIR LABEL=DIR…   each DIR holds dist/ (and package.json,
//                                                         node_modules), as `npm run build` makes them
// Figures: `submit` wall; echo→done (a job renamed into an idle worker's inbox → its "done" line);
// a drain of BENCH_DRAIN_JOBS [100] jobs at --concurrency 1 (worker spawn → last "done" line); backlog:
// jobs/s at --concurrency 4 over 40 repos with BENCH_BACKLOG [10000] queued, as a ratio to the rate with 100
// queued (in the same round), BENCH_BACKLOGS [2] rounds.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { backlogRate, fmtMs, killLeftovers, removeDir, startWorker, stats, timeRun, wallMs, writeFastCodex } from './lib.mjs';

const builds = process.argv.slice(2).map((arg) => {
  const [label, dir] = arg.split('=');
  return { label, cli: join(dir, 'dist', 'cli.js') };
});
if (builds.length < 2) throw new Error('usage: node bench/compare-builds.mjs LABEL=DIR LABEL=DIR…');
const int = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt);
const ROUNDS = int('BENCH_ROUNDS', 30);
const DRAIN_JOBS = int('BENCH_DRAIN_JOBS', 100);
const DRAINS = int('BENCH_DRAINS', 3);
const BACKLOG = int('BENCH_BACKLOG', 10_000);
const BACKLOGS = int('BENCH_BACKLOGS', 2);

const T = mkdtempSync(join(tmpdir(), 'codex-spool-compare-'));
const ENV = { ...process.env, HOME: T, CODEX_HOME: join(T, '.codex'), LC_ALL: 'C', NO_COLOR: '1' };
delete ENV.CODEX_SPOOL_ROOT;
const REPO = join(T, 'repo');
mkdirSync(REPO);
execFileSync('git', ['init', '-q', REPO]); // as Codex's repos are: the worker takes git's view of the tree around each run
/** A Codex that exits at once, as in bench/run.mjs. */
const FAST = writeFastCodex(join(T, 'fast-codex'));
const ms = Object.fromEntries(builds.map((b) => [b.label, { submit: [], echo_done: [], drain_per_job: [], backlog_ratio: [] }]));
/** Runs `fn(build)` for each build, starting with a different one each round. */
/** `root`, with the spool that `submit` writes into (only a worker creates one). */
const withSpool = (root) => (mkdirSync(join(root, 'spool', 'inbox'), { recursive: true, mode: 0o700 }), root);
const rotated = async (round, fn) => {
  for (let k = 0; k < builds.length; k++) await fn(builds[(round + k) % builds.length]);
};

try {
  for (const b of builds) withSpool(join(T, `submit-${b.label}`));
  for (let round = -3; round < ROUNDS; round++) {
    await rotated(round + 3, async (b) => {
      const root = join(T, `submit-${b.label}`);
      const r = await timeRun(process.execPath, [b.cli, 'submit', '--root', root, '--repo', REPO, '--task', 'x', '--id', `s${round + 3}`], {
        env: ENV,
      });
      if (r.code !== 0) throw new Error(`${b.label} submit: ${r.stderr}`);
      if (round >= 0) ms[b.label].submit.push(r.ms); // three warm-up rounds
    });
  }

  const workers = builds.map((b) => ({ b, root: join(T, `echo-${b.label}`) }));
  for (const w of workers) {
    w.w = startWorker({ node: process.execPath, cli: w.b.cli, root: w.root, codexBin: FAST, concurrency: 1, env: ENV });
    if (!(await w.w.waitFor((x) => x.tReady !== null, 30_000))) throw new Error(`${w.b.label}: worker did not start`);
  }
  await sleep(1000);
  for (let round = 0; round < ROUNDS; round++) {
    await rotated(round, async (b) => {
      const { root, w } = workers.find((x) => x.b === b);
      const tmp = join(root, 'spool', 'inbox', `.e${round}.json.tmp`);
      writeFileSync(tmp, `${JSON.stringify({ repo: REPO, task: `e${round}` })}\n`);
      const t0 = wallMs();
      renameSync(tmp, join(root, 'spool', 'inbox', `e${round}.json`));
      if (!(await w.waitFor((x) => x.finished.some((f) => f.id === `e${round}`), 20_000)))
        throw new Error(`${b.label}: e${round} not done`);
      ms[b.label].echo_done.push(w.finished.find((f) => f.id === `e${round}`).t - t0);
      await sleep(100 + Math.random() * 100);
    });
  }
  for (const w of workers) await w.w.stop();

  const batch = join(T, 'batch.jsonl');
  writeFileSync(
    batch,
    Array.from({ length: DRAIN_JOBS }, (_, i) => `${JSON.stringify({ id: `d${i}`, repo: REPO, task: `d${i}` })}\n`).join(''),
  );
  for (let round = 0; round < DRAINS; round++) {
    await rotated(round, async (b) => {
      const root = withSpool(join(T, `drain-${b.label}-${round}`));
      const enq = await timeRun(process.execPath, [b.cli, 'submit', '--root', root, '--batch', batch], { env: ENV });
      if (enq.code !== 0) throw new Error(`${b.label} submit --batch: ${enq.stderr}`);
      const w = startWorker({ node: process.execPath, cli: b.cli, root, codexBin: FAST, concurrency: 1, env: ENV });
      if (!(await w.waitFor((x) => x.finished.length >= DRAIN_JOBS, 300_000))) throw new Error(`${b.label}: drain not finished`);
      ms[b.label].drain_per_job.push((w.finished.at(-1).t - w.tSpawn) / DRAIN_JOBS);
      await w.stop();
    });
  }

  for (let round = 0; round < BACKLOGS; round++) {
    await rotated(round, async (b) => {
      const rate = async (queued) => {
        const dir = join(T, `backlog-${b.label}-${round}-${queued}`);
        const r = await backlogRate({
          node: process.execPath,
          cli: b.cli,
          dir,
          queued,
          repos: 40,
          concurrency: 4,
          codexBin: FAST,
          env: ENV,
        });
        removeDir(dir);
        return r.jobs_per_s;
      };
      const small = await rate(100);
      ms[b.label].backlog_ratio.push((await rate(BACKLOG)) / small);
    });
  }

  const base = builds[0].label;
  console.log(`median (p99) ms; ratio to ${base}'s median. ${ROUNDS} rounds; drains: ${DRAINS} × ${DRAIN_JOBS} jobs`);
  for (const fig of ['submit', 'echo_done', 'drain_per_job', 'backlog_ratio']) {
    const cells = builds.map(({ label }) => {
      const s = stats(ms[label][fig]);
      const fmt = fig === 'backlog_ratio' ? (v) => v?.toFixed(2) ?? '—' : fmtMs;
      return `${label} ${fmt(s.median)} (${fmt(s.p99)}) ×${(s.median / stats(ms[base][fig]).median).toFixed(2)}`;
    });
    console.log(`${fig.padEnd(14)} ${cells.join('   ')}`);
  }
} finally {
  await killLeftovers(T);
  removeDir(T);
}
