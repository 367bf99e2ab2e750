#!/usr/bin/env node
// Where a short command's start goes beyond `node -e 0`: interleaved rounds of `node -e 0`, an empty CommonJS
// file, then for each build given `--version` (the whole program's bundle), `submit --help` (its bundle, no
// work), `submit` (a real job into a spool with no worker, with --id; and without, as Claude submits: the
// id is made) and `status` on an empty spool; medians and ratios to `node -e 0`. With `perf` on PATH, each
// run's CPU time too (task-clock: less skewed than wall time by other work on a loaded machine). `status` on 10,000 finished jobs: bench/status-index.mjs.
// Usage: npm run build && node bench/start-cost.mjs [DIR…] (builds' checkouts; default: this one)
// Knob: BENCH_ROUNDS [30].
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const dirs = process.argv.length > 2 ? process.argv.slice(2) : [join(import.meta.dirname, '..')];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const T = mkdtempSync(join(tmpdir(), 'codex-spool-start-cost-'));
const root = join(T, 'root');
const repo = join(T, 'repo');
mkdirSync(join(root, 'spool', 'inbox'), { recursive: true });
// status gets a root of its own: in the submits' root it would list (and read) every job they queued.
const emptyRoot = join(T, 'empty');
mkdirSync(join(emptyRoot, 'spool', 'inbox'), { recursive: true });
mkdirSync(repo);
const empty = join(T, 'empty.cjs');
writeFileSync(empty, '');
const env = { ...process.env, HOME: T, CODEX_HOME: join(T, '.codex'), CODEX_SPOOL_ROOT: root, LC_ALL: 'C', NO_COLOR: '1' };
delete env.CLAUDE_CODE_SESSION_ID;
const perf = spawnSync('perf', ['--version']).status === 0;

let jobs = 0;
/** Each case: a label and the node arguments of one run (a new job id for each submit). */
const cases = [
  ['node -e 0', () => ['-e', '0']],
  ['empty CommonJS file', () => [empty]],
  ...dirs.flatMap((dir, i) => {
    const cli = join(dir, 'dist', 'cli.js');
    const tag = dirs.length > 1 ? `[${i + 1}] ` : '';
    return [
      [`${tag}--version`, () => [cli, '--version']],
      [`${tag}submit --help`, () => [cli, 'submit', '--help']],
      [`${tag}submit`, () => [cli, 'submit', '--repo', repo, '--task', 'x', '--id', `j${jobs++}`]],
      [`${tag}submit, new id`, () => [cli, 'submit', '--repo', repo, '--task', 'x']],
      [`${tag}status, empty spool`, () => [cli, 'status', '--root', emptyRoot]],
    ];
  }),
];

/** One run: wall ms (spawn → exit) and, with perf, CPU ms. */
function run(args) {
  const argv = perf ? ['stat', '-x,', '-e', 'task-clock', process.execPath, ...args] : args;
  const t = process.hrtime.bigint();
  const r = spawnSync(perf ? 'perf' : process.execPath, argv, { env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { wall, cpu: perf ? Number(r.stderr.trim().split('\n').pop().split(',')[0]) : Number.NaN };
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

try {
  for (const [, args] of cases) run(args()); // writes each bundle's code cache
  const load0 = loadavg();
  const samples = cases.map(() => []);
  for (let r = 0; r < ROUNDS; r++) for (const [i, [, args]] of cases.entries()) samples[i].push(run(args()));
  const m = samples.map((s) => ({ wall: median(s.map((x) => x.wall)), cpu: median(s.map((x) => x.cpu)) }));
  const load = (l) => l.map((x) => x.toFixed(2)).join(' ');
  console.log(`${ROUNDS} interleaved rounds, medians; load average at start ${load(load0)}, at end ${load(loadavg())}`);
  if (dirs.length > 1) for (const [i, dir] of dirs.entries()) console.log(`[${i + 1}] ${dir}`);
  console.log(`${''.padEnd(24)}      wall${perf ? '          CPU (task-clock)' : ''}`);
  cases.forEach(([label], i) => {
    const col = (k) => `${m[i][k].toFixed(1).padStart(7)} ms ${(m[i][k] / m[0][k]).toFixed(2)}x`;
    console.log(`${label.padEnd(24)} ${col('wall')}${perf ? `  ${col('cpu')}` : ''}`);
  });
} finally {
  rmSync(T, { recursive: true, force: true });
}
