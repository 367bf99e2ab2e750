// Where a job's worker time goes: a CPU profile of the worker draining a queue of fast jobs, its self time
// per filed job by kind of work. bench/README.md's table comes from this.
//   node bench/profile-worker.mjs   (after npm run build; PROFILE_JOBS [2000], PROFILE_S [10], PROFILE_CONCURRENCY [4])
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
  const w = startWorker({
    node: process.execPath,
    cli: join(REPO, 'dist', 'cli.js'),
    root,
    codexBin: writeFastCodex(join(T, 'fast-codex')),
    concurrency: CONCURRENCY,
    extraArgs: ['--skip-codex-check'],
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
    env: process.env,
  });
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
} finally {
  await killLeftovers(T);
  removeDir(T);
}
