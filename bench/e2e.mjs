// End to end with the real Codex CLI against the mock Responses server (test/helpers/mock-responses.ts):
// raw `codex exec --json` beside `echo job > inbox` → done/<id>.json through an idle worker, interleaved.
// A third variant runs the same worker path with a bash wrapper around Codex that logs when Codex starts and
// exits, to split the spool's time into pickup, Codex's run and filing. The done file is noticed with
// fs.watch (inotify: no polling competes with Codex for the CPU).
//   node bench/e2e.mjs   (after npm run build; BENCH_E2E_RUNS [10])   or through bench/run.mjs
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, watch, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { build } from 'esbuild';
import { startWorker, stats, timeRun, wallMs } from './lib.mjs';

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));

/** The test helpers (TypeScript) as ES modules under `dir`. */
async function loadHelpers(dir) {
  const entries = ['mock-responses', 'codex-home'].map((n) => join(REPO, 'test', 'helpers', `${n}.ts`));
  // import.meta.url as in test/helpers/, where codexBin() finds this project's Codex
  const define = { 'import.meta.url': JSON.stringify(pathToFileURL(entries[1]).href) };
  await build({
    entryPoints: entries,
    outdir: dir,
    bundle: true,
    format: 'esm',
    platform: 'node',
    outExtension: { '.js': '.mjs' },
    define,
    logLevel: 'warning',
  });
  return { ...(await import(join(dir, 'mock-responses.mjs'))), ...(await import(join(dir, 'codex-home.mjs'))) };
}

/** Resolves with the wall time at which `dir/name` exists (watching, not polling). */
function whenExists(dir, name, timeoutMs) {
  return new Promise((resolve, reject) => {
    const done = (t) => (watcher.close(), clearTimeout(timer), resolve(t));
    const watcher = watch(dir, (_, file) => {
      if (file === name && existsSync(join(dir, name))) done(wallMs());
    });
    const timer = setTimeout(() => (watcher.close(), reject(new Error(`${name} not in ${dir} after ${timeoutMs} ms`))), timeoutMs);
    if (existsSync(join(dir, name))) done(wallMs());
  });
}

/**
 * Runs the comparison in `dir` (a temp dir of the caller's) with the CLI `cli`; returns every sample.
 * `baseEnv` is the environment without HOME/CODEX_HOME (set here: Codex's home points at the mock).
 */
export async function benchE2e({ node, cli, dir, baseEnv, runs }) {
  const helpers = await loadHelpers(join(dir, 'helpers'));
  const codex = helpers.codexBin();
  const mock = await helpers.startMockResponses(); // answers every request with a final message "DONE"
  const home = join(dir, 'home');
  const repo = join(dir, 'repo');
  mkdirSync(repo, { recursive: true });
  execFileSync('git', ['init', '-q', repo]);
  const env = { ...baseEnv, HOME: home, CODEX_HOME: join(home, '.codex') };
  await helpers.writeCodexHome(env.CODEX_HOME, mock.url, [repo]);

  const timesLog = join(dir, 'codex-times.log');
  const wrapper = join(dir, 'timed-codex');
  writeFileSync(
    wrapper,
    `#!/bin/bash\nstart=$EPOCHREALTIME\n'${codex}' "$@"\nrc=$?\n[ "$1" = exec ] && echo "$start $EPOCHREALTIME" >> '${timesLog}'\nexit $rc\n`,
  );
  chmodSync(wrapper, 0o755);

  const workers = {};
  for (const [label, bin] of [
    ['spool', codex],
    ['timed', wrapper],
  ]) {
    const root = join(dir, `root-${label}`);
    const w = startWorker({ node, cli, root, codexBin: bin, concurrency: 1, extraArgs: ['--skip-codex-check'], env });
    if (!(await w.waitFor((x) => x.tReady !== null, 30_000))) throw new Error(`e2e ${label} worker did not start: ${w.other.join(' | ')}`);
    workers[label] = { w, root };
  }
  const out = {
    codex_bin: codex,
    codex_version: execFileSync(codex, ['--version'], { env, encoding: 'utf8' }).trim(),
    runs,
    raw_ms: [],
    spool_ms: [],
    timed_ms: [],
    pickup_ms: [],
    codex_under_worker_ms: [],
    filing_ms: [],
    raw_stdout_bytes: null,
  };
  try {
    await sleep(500);
    const variants = {
      raw: async (i) => {
        const r = await timeRun(codex, ['exec', '--json', '--cd', repo, '-o', join(dir, 'raw-last.txt'), '-'], {
          env,
          input: `e2e raw ${i}`,
        });
        if (r.code !== 0) throw new Error(`raw codex exited ${r.code}: ${r.stderr.slice(-300)}`);
        out.raw_stdout_bytes ??= r.stdoutBytes;
        return r.ms;
      },
      spool: (i) => throughSpool('spool', i),
      timed: async (i) => {
        const ms = await throughSpool('timed', i);
        const [start, exit] = readFileSync(timesLog, 'utf8')
          .trim()
          .split('\n')
          .at(-1)
          .split(' ')
          .map((x) => Number(x) * 1000);
        out.pickup_ms.push(start - lastT0);
        out.codex_under_worker_ms.push(exit - start);
        out.filing_ms.push(lastDone - exit);
        return ms;
      },
    };
    let lastT0 = 0;
    let lastDone = 0;
    async function throughSpool(label, i) {
      const { root } = workers[label];
      const id = `e2e-${label}-${i}`;
      const job = JSON.stringify({ repo, task: `e2e ${label} ${i}` });
      const done = whenExists(join(root, 'spool', 'done'), `${id}.json`, 60_000);
      lastT0 = wallMs();
      const r = await timeRun('sh', ['-c', `echo '${job}' > '${join(root, 'spool', 'inbox', `${id}.json`)}'`], { env });
      if (r.code !== 0) throw new Error(`echo into the inbox failed: ${r.stderr}`);
      lastDone = await done;
      return lastDone - lastT0;
    }
    const names = Object.keys(variants);
    for (let i = -1; i < runs; i++) {
      for (let k = 0; k < names.length; k++) {
        const n = names[(i + 1 + k) % names.length];
        const ms = await variants[n](i);
        if (i >= 0)
          out[`${n}_ms`].push(ms); // round -1 warms up Codex and the page cache
        else if (n === 'timed') out.pickup_ms.length = out.codex_under_worker_ms.length = out.filing_ms.length = 0;
        await sleep(200 + Math.random() * 100); // idle again, at a random phase of the worker's timer
      }
    }
  } finally {
    for (const { w } of Object.values(workers)) await w.stop();
    await mock.close();
  }
  out.stats = Object.fromEntries(
    ['raw_ms', 'spool_ms', 'timed_ms', 'pickup_ms', 'codex_under_worker_ms', 'filing_ms'].map((k) => [k, stats(out[k])]),
  );
  out.over_raw_ms = out.stats.spool_ms.median - out.stats.raw_ms.median;
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { killLeftovers, removeDir } = await import('./lib.mjs');
  const dir = mkdtempSync(join(tmpdir(), 'codex-spool-e2e-'));
  try {
    const r = await benchE2e({
      node: process.execPath,
      cli: join(REPO, 'dist', 'cli.js'),
      dir,
      baseEnv: { ...process.env, CODEX_SPOOL_ROOT: '' },
      runs: Number(process.env.BENCH_E2E_RUNS ?? 10),
    });
    const f = (s) => `${s.median.toFixed(0)} ms (p99 ${s.p99.toFixed(0)})`;
    console.log(`${r.codex_version}; ${r.runs} interleaved rounds`);
    for (const k of Object.keys(r.stats)) console.log(`${k.padEnd(22)} ${f(r.stats[k])}`);
    console.log(`echo→done over raw: ${r.over_raw_ms.toFixed(0)} ms (target ≤ 50)`);
  } finally {
    await killLeftovers(dir);
    removeDir(dir);
  }
}
