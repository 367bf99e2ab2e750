#!/usr/bin/env node
// `status` on N finished jobs, with and without spool/finished.log, beside `node -e 0`: interleaved rounds,
// medians. One real done file (a fake-Codex job run by `worker --once`) copied N times, as bench/run.mjs row 5
// does; then `prune --yes` (which removes nothing that young) writes the log. Also the listing alone,
// in-process (dist/ has no entry for it, so it is timed as readdir + the log's read vs readdir + lstat each).
// Usage: npm run build && node bench/status-index.mjs   Knobs: BENCH_STATUS_JOBS [10000], BENCH_ROUNDS [15].
import { spawnSync } from 'node:child_process';
import { copyFileSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const APP = join(import.meta.dirname, '..');
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
const timed = (argv) => {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, argv, { env, stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
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

  const emptyRoot = join(T, 'empty');
  mkdirSync(join(emptyRoot, 'spool', 'inbox'), { recursive: true });
  const load0 = loadavg();
  const s = { node: [], empty: [], withLog: [], noLog: [], listLog: [], listLstat: [] };
  for (let r = 0; r < ROUNDS; r++) {
    s.node.push(timed(['-e', '0']));
    s.empty.push(timed([CLI, 'status', '--root', emptyRoot])); // the program's own cost, no job listed
    s.withLog.push(timed([CLI, 'status']));
    withLog(false);
    s.noLog.push(timed([CLI, 'status']));
    withLog(true);
    // The listing's file-system part alone, in this process.
    let t = process.hrtime.bigint();
    readdirSync(done);
    readFileSync(log, 'utf8');
    s.listLog.push(Number(process.hrtime.bigint() - t) / 1e6);
    t = process.hrtime.bigint();
    for (const name of readdirSync(done)) lstatSync(join(done, name));
    s.listLstat.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const m = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, median(v)]));
  const f = (x) => `${x.toFixed(1)} ms`;
  console.log(`${N} done jobs, ${ROUNDS} interleaved rounds, medians; log ${logText.length} B`);
  console.log(
    `load average at start ${load0.map((x) => x.toFixed(2)).join(' ')}, at end ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  console.log(`node -e 0                 ${f(m.node)}`);
  console.log(`status, empty spool       ${f(m.empty)}  ${(m.empty / m.node).toFixed(2)}x node -e 0`);
  console.log(`status, finished.log      ${f(m.withLog)}  ${(m.withLog / m.node).toFixed(2)}x node -e 0`);
  console.log(`status, no log (lstat)    ${f(m.noLog)}  ${(m.noLog / m.node).toFixed(2)}x node -e 0`);
  console.log(`listing: readdir + log    ${f(m.listLog)}`);
  console.log(`listing: readdir + lstat  ${f(m.listLstat)}`);
} finally {
  rmSync(T, { recursive: true, force: true });
}
