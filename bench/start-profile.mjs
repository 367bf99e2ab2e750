#!/usr/bin/env node
// Where `submit`'s CPU goes: BENCH_PROFILES [20] CPU profiles of `submit --id …` (node --cpu-prof, sampled
// every 100 µs; stdout and stderr to a pipe; no worker, so it prints its "no live worker" note), each sample
// put in the first kind of work below that it ran under, as a share of the profiled time (profiling starts
// after node has built its heap: `node -e 0`'s own start is only partly in it). The bundle's own functions
// are told apart by the source module esbuild names above each one in dist/submit.js.
// Usage: npm run build && node bench/start-profile.mjs [DIR] (a build's checkout; default: this one)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = process.argv[2] ?? join(import.meta.dirname, '..');
const RUNS = Number(process.env.BENCH_PROFILES ?? 20);
const bundle = join(dir, 'dist', 'submit.js');
const T = mkdtempSync(join(tmpdir(), 'codex-spool-start-profile-'));
const root = join(T, 'root');
const repo = join(T, 'repo');
const profiles = join(T, 'profiles');
mkdirSync(join(root, 'spool', 'inbox'), { recursive: true });
mkdirSync(repo);
const env = { ...process.env, HOME: T, CODEX_HOME: join(T, '.codex'), CODEX_SPOOL_ROOT: root, LC_ALL: 'C', NO_COLOR: '1' };
delete env.CLAUDE_CODE_SESSION_ID;

/** The source module of each line of the bundle, from the `// path` comment esbuild puts above each module. */
function modulesByLine() {
  let current = '';
  return readFileSync(bundle, 'utf8')
    .split('\n')
    .map((line) => {
      const m = /^\/\/ (\S+\.(?:ts|js|cjs|mjs))$/.exec(line);
      if (m) current = m[1];
      return current;
    });
}

/** The kind of work of one sample, from its stack (leaf first). */
function kindOf(stack, moduleAt) {
  const leaf = stack[0].functionName;
  if (leaf === '(garbage collector)') return 'garbage collector';
  if (leaf === '(program)') return 'V8 and native code the profiler does not attribute';
  if (leaf === '(idle)') return 'waiting (fsync, the disk, the thread pool)';
  const has = (name) => stack.some((c) => c.functionName === name);
  const ours = stack.find((c) => c.url.endsWith('/dist/submit.js'));
  if (has('requireBuiltin') || has('compileForPublicLoader')) {
    if (ours || stack.some((c) => c.url.endsWith('/dist/cli.js'))) return 'built-in modules loaded (`node:fs/promises`, `node:module`, …)';
  }
  if (!ours) {
    if (!has('requireCached')) return "node's start: bootstrap, resolving and reading `dist/cli.js`, the CommonJS loader";
    return has('Script') ? "V8 deserialising the bundle's code cache (`vm.Script`)" : 'reading the bundle and its code cache';
  }
  const module = moduleAt[ours.lineNumber] ?? '';
  const atLoad = stack.some((c) => c.url.endsWith('/dist/submit.js') && c.lineNumber === 0 && c.functionName === '');
  if (/zod|spool\/schema\.ts/.test(module))
    return atLoad ? "zod's core (and schemas) built at load" : 'zod: schemas built on first use, the job parsed';
  if (/commander/.test(module)) return 'commander: loaded, the command built, argv parsed';
  if (atLoad) return "the rest of the bundle's modules run at load";
  return 'the command itself: policy, the job file written (fsync), heartbeats read, output';
}

try {
  const cli = join(dir, 'dist', 'cli.js');
  const submit = (i, prof) =>
    spawnSync(process.execPath, [...prof, cli, 'submit', '--repo', repo, '--task', 'x', '--id', `p${i}`], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  submit('warm', []); // writes the bundle's code cache
  const load0 = loadavg();
  for (let i = 0; i < RUNS; i++) submit(i, ['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', profiles]);
  const moduleAt = modulesByLine();
  const shares = new Map();
  let total = 0;
  for (const file of readdirSync(profiles)) {
    const p = JSON.parse(readFileSync(join(profiles, file), 'utf8'));
    const nodes = new Map(p.nodes.map((n) => [n.id, n]));
    const parent = new Map(p.nodes.flatMap((n) => (n.children ?? []).map((c) => [c, n.id])));
    p.samples.forEach((id, i) => {
      const stack = [];
      for (let at = id; at !== undefined; at = parent.get(at)) stack.push(nodes.get(at).callFrame);
      const kind = kindOf(stack, moduleAt);
      const t = p.timeDeltas[i + 1] ?? 0;
      shares.set(kind, (shares.get(kind) ?? 0) + t);
      total += t;
    });
  }
  const load = (l) => l.map((x) => x.toFixed(2)).join(' ');
  console.log(
    `${RUNS} profiles of submit, ${(total / RUNS / 1000).toFixed(1)} ms profiled each; load average ${load(load0)} → ${load(loadavg())}`,
  );
  console.log('| where | share |\n|---|---|');
  for (const [kind, t] of [...shares].sort((a, b) => b[1] - a[1])) console.log(`| ${kind} | ${Math.round((100 * t) / total)} % |`);
} finally {
  rmSync(T, { recursive: true, force: true });
}
