#!/usr/bin/env node
// `status` on N finished jobs beside `node -e 0`, interleaved rounds, medians: on a quiet spool (the listing
// from spool/listing.cache), just after done/ changed (no cache: the listing ordered by spool/finished.log),
// and that without the log (an lstat each). One real done file (a fake-Codex job run by `worker --once`)
// copied N times, as bench/run.mjs row 5 does; then `prune --yes` (which removes nothing that young) writes
// the log. done/'s mtime is set to make it quiet or just changed. Also the listing alone,
// in-process (dist/ has no entry for it, so it is timed as readdir + the log's read vs readdir + lstat each).
// With perf on PATH, each run's CPU time too (task-clock). DIRs: checkouts of builds to compare, each timed
// in every round on the same spool (made with the first), default this one.
// Usage: npm run build && node bench/status-index.mjs [DIR…]   Knobs: BENCH_STATUS_JOBS [10000], BENCH_ROUNDS [15].
import { spawnSync } from 'node:child_process';
import { copyFileSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const DIRS = process.argv.length > 2 ? process.argv.slice(2) : [join(import.meta.dirname, '..')];
const APP = DIRS[0];
const CLI = join(APP, 'dist', 'cli.js');
const N = Number(process.env.BENCH_STATUS_JOBS ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const T = mkdtempSync(join(tmpdir(), 'codex-spool-status-index-'));
const root = join(T, 'root');
const env = { ...process.env, HOME: T, CODEX_HOME: join(T, '.codex'), CODEX_SPOOL_ROOT: root, LC_ALL: 'C', NO_COLOR: '1' };
delete env.CLAUDE_CODE_SESSION_ID;

const cli = (...args) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
};
const perf = spawnSync('perf', ['--version']).status === 0;
/** One run: wall ms (spawn → exit) and, with perf, CPU ms. */
const timed = (argv) => {
  const t = process.hrtime.bigint();
  const r = perf
    ? spawnSync('perf', ['stat', '-x,', '-e', 'task-clock', process.execPath, ...argv], {
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
        encoding: 'utf8',
      })
    : spawnSync(process.execPath, argv, { env, stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}`);
  return {
    wall: Number(process.hrtime.bigint() - t) / 1e6,
    cpu: perf ? Number(r.stderr.trim().split('\n').pop().split(',')[0]) : Number.NaN,
  };
};
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

try {
  const repo = join(T, 'repo');
  mkdirSync(repo);
  mkdirSync(join(root, 'spool', 'inbox'), { recursive: true });
  cli('submit', '--repo', repo, '--task', 'bench status', '--id', 'tpl');
  cli('worker', '--once', '--skip-codex-check', '--codex-bin', join(APP, 'test', 'fixtures', 'fake-codex'));
  const done = join(root, 'spool', 'done');
  const tpl = join(done, 'tpl.json');
  readFileSync(tpl); // the worker filed it
  for (let i = 0; i < N; i++) copyFileSync(tpl, join(done, `st-${String(i).padStart(5, '0')}.json`));
  const log = join(root, 'spool', 'finished.log');
  cli('prune', '--older-than', '3650d', '--yes');
  const logText = readFileSync(log, 'utf8');
  const aside = `${log}.aside`;
  const withLog = (on) => (on ? renameSync(aside, log) : renameSync(log, aside));

  /** Sets done/'s mtime (its ctime becomes now): the cache's stamp no longer matches. */
  const touchDone = (t) => utimesSync(done, t, t);
  touchDone(Date.now() / 1000 - 60);
  cli('status'); // saves spool/listing.cache
  const emptyRoot = join(T, 'empty');
  mkdirSync(join(emptyRoot, 'spool', 'inbox'), { recursive: true });
  const load0 = loadavg();
  const builds = DIRS.map((dir, i) => ({ tag: DIRS.length > 1 ? `[${i + 1}] ` : '', cli: join(dir, 'dist', 'cli.js') }));
  const s = { node: [], listLog: [], listLstat: [] };
  for (const b of builds)
    Object.assign(s, { [`${b.tag}empty`]: [], [`${b.tag}cached`]: [], [`${b.tag}withLog`]: [], [`${b.tag}noLog`]: [] });
  for (let r = 0; r < ROUNDS; r++) {
    s.node.push(timed(['-e', '0']));
    for (const b of builds) {
      s[`${b.tag}empty`].push(timed([b.cli, 'status', '--root', emptyRoot])); // the program's own cost, no job listed
      s[`${b.tag}cached`].push(timed([b.cli, 'status'])); // done/ quiet: spool/listing.cache
    }
    touchDone(Date.now() / 1000); // changed just now: the cache is neither used nor saved
    for (const b of builds) s[`${b.tag}withLog`].push(timed([b.cli, 'status']));
    withLog(false);
    for (const b of builds) s[`${b.tag}noLog`].push(timed([b.cli, 'status']));
    withLog(true);
    // done/ quiet again (changed a minute ago, as far as its mtime says): the next run saves the cache anew
    touchDone(Date.now() / 1000 - 60);
    for (const b of builds) timed([b.cli, 'status']);
    // The listing's file-system part alone, in this process.
    let t = process.hrtime.bigint();
    readdirSync(done);
    readFileSync(log, 'utf8');
    s.listLog.push(Number(process.hrtime.bigint() - t) / 1e6);
    t = process.hrtime.bigint();
    for (const name of readdirSync(done)) lstatSync(join(done, name));
    s.listLstat.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const m = (k, field) => median(s[k].map((x) => (field ? x[field] : x)));
  const f = (x) => `${x.toFixed(1)} ms`;
  console.log(`${N} done jobs, ${ROUNDS} interleaved rounds, medians; log ${logText.length} B`);
  console.log(
    `load average at start ${load0.map((x) => x.toFixed(2)).join(' ')}, at end ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  if (DIRS.length > 1) for (const [i, dir] of DIRS.entries()) console.log(`[${i + 1}] ${dir}`);
  const row = (label, k) => {
    const col = (field) => `${f(m(k, field)).padStart(9)} ${(m(k, field) / m('node', field)).toFixed(2)}x`;
    console.log(`${label.padEnd(30)}${col('wall')}${perf ? `   CPU ${col('cpu')}` : ''}`);
  };
  row('node -e 0', 'node');
  for (const b of builds) {
    row(`${b.tag}status, empty spool`, `${b.tag}empty`);
    row(`${b.tag}status, listing.cache`, `${b.tag}cached`);
    row(`${b.tag}status, finished.log`, `${b.tag}withLog`);
    row(`${b.tag}status, no log (lstat)`, `${b.tag}noLog`);
  }
  console.log(`listing: readdir + log    ${f(m('listLog'))}`);
  console.log(`listing: readdir + lstat  ${f(m('listLstat'))}`);
} finally {
  rmSync(T, { recursive: true, force: true });
}
