// Where a job's worker time goes: a CPU profile of the worker draining a queue of fast jobs, its self time
// per filed job by kind of work. bench/README.md's table comes from this.
//   node bench/profile-worker.mjs   (after npm run build; PROFILE_JOBS [2000], PROFILE_S [10], PROFILE_CONCURRENCY [4])
//   PROFILE_PERF=1 node bench/profile-worker.mjs   the same drain under `perf record -g` instead: every thread
//   of the worker, kernel included (needs perf); prints where its CPU goes by symbol, and the kernel paths
//   that the JavaScript profile shows only as the file-system call that entered them.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { killLeftovers, removeDir, startWorker, writeFastCodex } from './lib.mjs';

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
const int = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt);
const JOBS = int('PROFILE_JOBS', 2000);
const SECONDS = int('PROFILE_S', 10);
const CONCURRENCY = int('PROFILE_CONCURRENCY', 4);

/** The kind of work a profile node's self time is, by its function and script. */
const KINDS = [
  ['spawn (fork + exec of Codex and git)', (f) => f.functionName === 'ChildProcess.spawn'],
  ['fsync', (f) => /^f(data)?sync/.test(f.functionName)],
  ['open/close', (f) => /^(open|close|openFileHandle)$/.test(f.functionName)],
  ['stat/lstat/fstat/realpath/access', (f) => /^(l|f)?stat$|^realpath|^access$/.test(f.functionName)],
  ['read/write', (f) => /^(read|write|writeString|writeBuffer|readFileUtf8|writeFileUtf8)$/.test(f.functionName) && f.url === ''],
  ['rename/link/unlink/mkdir/rmdir/readdir', (f) => /^(rename|link|unlink|mkdir|rmdir|readdir)$/.test(f.functionName)],
  ['garbage collector', (f) => f.functionName === '(garbage collector)'],
  ['idle (waiting for Codex, git, the disk)', (f) => f.functionName === '(idle)'],
  ['other JS and runtime', () => true],
];

const T = mkdtempSync(join(tmpdir(), 'codex-spool-profile-'));
try {
  const root = join(T, 'root');
  const inbox = join(root, 'spool', 'inbox');
  mkdirSync(inbox, { recursive: true, mode: 0o700 });
  for (let i = 0; i < JOBS; i++) {
    // 40 repos, written as submit does (temp file + rename)
    const repo = join(T, 'repos', `r${i % 40}`);
    mkdirSync(repo, { recursive: true });
    writeFileSync(join(inbox, `.j${i}.tmp`), `${JSON.stringify({ repo, task: `t${i}` })}\n`);
    renameSync(join(inbox, `.j${i}.tmp`), join(inbox, `j${String(i).padStart(6, '0')}.json`));
  }
  const profDir = join(T, 'prof');
  const load = loadavg();
  const perf = process.env.PROFILE_PERF === '1';
  const w = startWorker({
    node: process.execPath,
    cli: join(REPO, 'dist', 'cli.js'),
    root,
    codexBin: writeFastCodex(join(T, 'fast-codex')),
    concurrency: CONCURRENCY,
    extraArgs: ['--skip-codex-check'],
    nodeArgs: perf ? [] : ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
    env: process.env,
  });
  if (perf) {
    await w.waitFor((x) => x.finished.length >= 20, 30_000); // past the start-up
    const data = join(T, 'perf.data');
    const from = w.finished.length;
    // Not spawnSync: the worker's log lines, which count the jobs filed, are read meanwhile.
    await new Promise((done) =>
      spawn('perf', ['record', '-q', '-F', '1999', '-g', '-p', String(w.pid), '-o', data, '--', 'sleep', String(SECONDS)]).on('exit', done),
    );
    const filed = w.finished.length - from;
    await w.stop();
    const report = (...args) => spawnSync('perf', ['report', '-i', data, '--stdio', '-g', 'none', ...args], { encoding: 'utf8' }).stdout;
    const rows = (text) => text.split('\n').filter((l) => l.trim() && !l.startsWith('#'));
    console.log(
      `${filed} jobs filed in ${SECONDS} s at --concurrency ${CONCURRENCY} under perf (load ${load.map((x) => x.toFixed(1)).join(' ')})`,
    );
    console.log(
      'by program and object:',
      rows(report('--no-children', '--sort', 'comm,dso'))
        .slice(0, 6)
        .join('\n'),
    );
    console.log(
      'self, top symbols:',
      rows(report('--no-children', '--sort', 'sym'))
        .slice(0, 15)
        .join('\n'),
    );
    const paths =
      /\] (__ext4_new_inode|__x64_sys_openat|copy_page_range|__x64_sys_fsync|__x64_sys_futex|__x64_sys_rename|__x64_sys_unlink|__x64_sys_mkdir)$/;
    console.log(
      'kernel paths, children included:',
      rows(report('--children', '--sort', 'sym'))
        .filter((l) => paths.test(l))
        .join('\n'),
    );
  } else {
    await sleep(SECONDS * 1000);
    const filed = w.finished.length;
    await w.stop();
    const prof = JSON.parse(readFileSync(join(profDir, readdirSync(profDir)[0]), 'utf8'));
    const byId = new Map(prof.nodes.map((n) => [n.id, n]));
    const self = new Map(KINDS.map(([k]) => [k, 0]));
    prof.samples.forEach((id, i) => {
      const f = byId.get(id).callFrame;
      const kind = KINDS.find(([, test]) => test(f))[0];
      self.set(kind, self.get(kind) + (prof.timeDeltas[i] ?? 0) / 1000);
    });
    const busy = [...self].filter(([k]) => !k.startsWith('idle')).reduce((a, [, v]) => a + v, 0);
    console.log(
      `${filed} jobs filed in ${SECONDS} s at --concurrency ${CONCURRENCY} (${JOBS} queued; load ${load.map((x) => x.toFixed(1)).join(' ')})`,
    );
    console.log('| where | ms/job | share of busy |\n|---|---|---|');
    for (const [k, ms] of self)
      console.log(`| ${k} | ${(ms / filed).toFixed(1)} | ${k.startsWith('idle') ? '—' : `${Math.round((100 * ms) / busy)} %`} |`);
    if (process.env.PROFILE_TOP) {
      const other = new Map();
      prof.samples.forEach((id, i) => {
        const f = byId.get(id).callFrame;
        if (KINDS.find(([, test]) => test(f))[0] !== 'other JS and runtime') return;
        const k = `${f.functionName} ${f.url.split('/').pop()}`;
        other.set(k, (other.get(k) ?? 0) + (prof.timeDeltas[i] ?? 0) / 1000);
      });
      console.log(
        [...other]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 25)
          .map(([k, v]) => `${(v / filed).toFixed(2)} ${k}`)
          .join('\n'),
      );
    }
    console.log(`| busy total | ${(busy / filed).toFixed(1)} | 100 % |`);
  }
} finally {
  await killLeftovers(T);
  removeDir(T);
}
