// The floor under issue 11's "c=4 jobs/s ≥ nq's" target: how fast a Node process can go that does far less
// than the worker, with the packages the worker must use (execa runs Codex, zod validates jobs).
//   node bench/floor.mjs spawn DIR N C CODEX     spawns CODEX N times, C at a time, with execa, its output
//     ignored: nothing else
//   node bench/floor.mjs durable DIR N C CODEX   the least a durable spool worker does per job: claim (a lock
//     directory, the rename into active/, both directories fsynced), read and validate the job, run CODEX with
//     execa, write its result (temp file, fsync, rename, fsync of done/), release. Codex's output is not
//     kept or read; no run files, no liveness, no lease, no summary, no log: far less than the worker does.
// Prints one JSON line: { jobs, seconds, jobs_per_s, rss_mib }. `npm run bench` runs both beside nq (step 3).
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdir, open, readFile, rename, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

const [mode, dir, n, c, codex] = process.argv.slice(2);
const N = Number(n);
const C = Number(c);
if (!['spawn', 'durable'].includes(mode) || !dir || !(N > 0) || !(C > 0) || !codex)
  throw new Error('usage: node bench/floor.mjs spawn|durable DIR N C CODEX');

// zod only where it is used: a bigger process forks slower (the fork copies its page tables).
async function jobSchema() {
  const { z } = await import('zod');
  return z.object({ repo: z.string(), task: z.string() }).strict();
}
const Job = mode === 'durable' ? await jobSchema() : null;
const at = (...p) => join(dir, ...p);
for (const d of ['inbox', 'active', 'done', 'locks']) mkdirSync(at(d), { recursive: true });
for (let i = 0; i < N; i++) writeFileSync(at('inbox', `j${i}.json`), `${JSON.stringify({ repo: dir, task: `t${i}` })}\n`);

async function fsyncPath(path, flags = 'r') {
  const h = await open(path, flags);
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

async function durableJob(name) {
  await mkdir(at('locks', name));
  await rename(at('inbox', name), at('active', name));
  await Promise.all([fsyncPath(at('inbox')), fsyncPath(at('active'))]);
  const job = Job.parse(JSON.parse(await readFile(at('active', name), 'utf8')));
  const run = await execa(codex, ['exec', '--json', '--', job.task], { cwd: job.repo, stdio: 'ignore', reject: false });
  const tmp = at('done', `.${name}.tmp`);
  const h = await open(tmp, 'w');
  try {
    await h.writeFile(`${JSON.stringify({ ...job, result: { exit_code: run.exitCode } })}\n`);
    await h.sync();
  } finally {
    await h.close();
  }
  await rename(tmp, at('done', name));
  await unlink(at('active', name));
  await Promise.all([fsyncPath(at('done')), fsyncPath(at('active'))]);
  await rmdir(at('locks', name));
}

const spawnJob = (name) => execa(codex, ['exec', '--json', '--', name], { stdio: 'ignore', reject: false });

const queue = readdirSync(at('inbox'));
const t0 = performance.now();
await Promise.all(
  Array.from({ length: C }, async () => {
    for (let name = queue.shift(); name; name = queue.shift()) await (mode === 'spawn' ? spawnJob : durableJob)(name);
  }),
);
const seconds = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ jobs: N, seconds, jobs_per_s: N / seconds, rss_mib: process.memoryUsage().rss / 2 ** 20 }));
