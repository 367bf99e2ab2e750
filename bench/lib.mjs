// Helpers of the benchmark: timing child processes, statistics, a worker handle, process clean-up.
// Node built-ins only. Every child is tracked so that it can be ended by its pid at the end.
import { spawn } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

/** Wall-clock time in ms with sub-ms resolution (CLOCK_REALTIME at start + monotonic since). */
export const wallMs = () => performance.timeOrigin + performance.now();

/** Monotonic ms. */
export const nowMs = () => performance.now();

const children = new Set();

/** Spawns a tracked child. */
export function spawnTracked(cmd, args, opts) {
  const child = spawn(cmd, args, opts);
  children.add(child);
  child.on('exit', () => children.delete(child));
  child.on('error', () => children.delete(child));
  return child;
}

/**
 * Runs a command to its end; returns its wall time (spawn to exit and closed stdio) and the bytes it printed.
 * The time is taken around spawn() and the 'close' event, the same way for every command compared.
 */
export function timeRun(cmd, args, { env, cwd, input } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = nowMs();
    const child = spawnTracked(cmd, args, { env, cwd, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => err.push(b));
    if (input !== undefined) child.stdin.end(input);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const ms = nowMs() - t0;
      const stdout = Buffer.concat(out);
      const stderr = Buffer.concat(err);
      resolve({
        ms,
        code,
        signal,
        stdout: stdout.toString(),
        stderr: stderr.toString(),
        bytes: stdout.length + stderr.length,
        stdoutBytes: stdout.length,
        stderrBytes: stderr.length,
      });
    });
  });
}

/** Nearest-rank percentile of a list of numbers. */
export function percentile(values, p) {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export function stats(values) {
  if (!values.length) return { n: 0, median: null, p99: null, min: null, max: null, mean: null };
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { n: s.length, median, p99: percentile(s, 99), min: s[0], max: s[s.length - 1], mean: s.reduce((a, b) => a + b, 0) / s.length };
}

/** VmRSS of a process in KiB, or null. */
export function rssKiB(pid) {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** The path of executable `name` on PATH, or null. */
export function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir) continue;
    try {
      accessSync(`${dir}/${name}`, constants.X_OK);
      return `${dir}/${name}`;
    } catch {
      /* not here */
    }
  }
  return null;
}

/**
 * A running `codex-spool worker`: its stderr lines time-stamped on arrival, counters of its
 * started/done/failed/rejected lines, and a way to wait for a condition on them.
 */
export function startWorker({ node, nodeArgs = [], cli, root, codexBin, concurrency, extraArgs = [], env }) {
  const tSpawn = wallMs();
  const child = spawnTracked(
    node,
    [
      ...nodeArgs,
      cli,
      'worker',
      '--root',
      root,
      '--codex-bin',
      codexBin,
      '--concurrency',
      String(concurrency),
      '--grace-ms',
      '2000',
      ...extraArgs,
    ],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const w = {
    child,
    pid: child.pid,
    tSpawn,
    tReady: null, // the "worker: <root> …" line
    lines: [],
    started: [], // { t, id }
    finished: [], // { t, id, kind }
    other: [],
    waiters: [],
    exitedInfo: null,
  };
  const check = () => {
    w.waiters = w.waiters.filter((x) => {
      if (x.pred(w)) {
        x.resolve(true);
        return false;
      }
      return true;
    });
  };
  createInterface({ input: child.stderr }).on('line', (line) => {
    const t = wallMs();
    w.lines.push({ t, line });
    const [word, id] = line.split(' ', 2);
    if (word === 'worker:' && w.tReady === null) w.tReady = t;
    else if (word === 'started') w.started.push({ t, id });
    else if (word === 'done' || word === 'failed' || word === 'rejected') w.finished.push({ t, id: id.replace(/:$/, ''), kind: word });
    else if (word !== 'worker:') w.other.push(line);
    check();
  });
  w.exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      w.exitedInfo = { code, signal };
      for (const x of w.waiters.splice(0)) x.resolve(false);
      resolve(w.exitedInfo);
    }),
  );
  /** Resolves true once pred(w) holds, false on timeout or worker exit. */
  w.waitFor = (pred, timeoutMs) =>
    new Promise((resolve) => {
      if (pred(w)) return resolve(true);
      if (w.exitedInfo) return resolve(false);
      const entry = { pred, resolve: (v) => (clearTimeout(timer), resolve(v)) };
      const timer = setTimeout(() => {
        w.waiters = w.waiters.filter((x) => x !== entry);
        resolve(false);
      }, timeoutMs);
      w.waiters.push(entry);
    });
  w.stop = async () => {
    if (w.exitedInfo) return w.exitedInfo;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const info = await w.exited;
    clearTimeout(t);
    return info;
  };
  return w;
}

/** Ends every child still running (by pid), then every process whose command line or environment names `tag`. */
export async function killLeftovers(tag) {
  for (const c of children) {
    try {
      c.kill('SIGTERM');
    } catch {
      /* gone */
    }
  }
  if (children.size) await sleep(300);
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
  // Daemons started by the tools (nq's detached jobs, the tsp server, Codex process groups) are not our
  // direct children: find them by the unique temp dir in their command line or environment.
  const found = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let text = '';
    try {
      text = `${readFileSync(`/proc/${pid}/cmdline`, 'utf8')}\0${readFileSync(`/proc/${pid}/environ`, 'utf8')}`;
    } catch {
      continue;
    }
    if (text.includes(tag)) found.push(pid);
  }
  for (const pid of found) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  return found.length;
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

export const fmtMs = (v) =>
  v === null || v === undefined ? '—' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : v >= 10 ? `${v.toFixed(0)} ms` : `${v.toFixed(1)} ms`;

/** Writes a Codex that exits at once (thread.started, turn.completed, exit 0; answers --version and the worker's `doctor --json`) to `path`. */
export function writeFastCodex(path) {
  writeFileSync(
    path,
    `#!/bin/sh
[ "$1" = --version ] && { echo 'codex-cli 0.0.0-fast'; exit 0; }
[ "$1" = doctor ] && { echo '{"checks":{"auth.credentials":{"status":"ok","summary":"fake"},"config.load":{"status":"ok","summary":"fake"},"network.provider_reachability":{"status":"ok","summary":"fake"}}}'; exit 0; }
echo '{"type":"thread.started","thread_id":"0199a213-81c0-7800-8aa1-bbab2a035a53"}'
echo '{"type":"turn.completed","usage":{"input_tokens":1,"cached_input_tokens":0,"output_tokens":1,"reasoning_output_tokens":0}}'
exit 0
`,
    { mode: 0o755 },
  );
  return path;
}

/**
 * Backlog drain rate: `queued` jobs (over `repos` repo dirs, round robin) are written straight into the
 * inbox (temp file + rename, as `submit` does), then a worker at `concurrency` drains them with `codexBin`.
 * Returns jobs/s between the `skip`-th and the (`skip`+`measure`)-th filed job: the rate while nearly the
 * whole backlog is still queued, start-up left out.
 */
export async function backlogRate({
  node,
  cli,
  dir,
  queued,
  repos,
  concurrency,
  codexBin,
  env,
  skip = 10,
  measure = 80,
  timeoutMs = 300_000,
}) {
  // The repos beside the root, not in it: the worker rejects a job whose repo is inside its root, and a
  // rate of rejections is not a rate of runs.
  const root = join(dir, 'root');
  const inbox = join(root, 'spool', 'inbox');
  mkdirSync(inbox, { recursive: true, mode: 0o700 });
  const repoDirs = Array.from({ length: repos }, (_, i) => {
    const d = join(dir, 'repos', `r${i}`);
    mkdirSync(d, { recursive: true });
    return d;
  });
  for (let i = 0; i < queued; i++) {
    const id = `b${String(i).padStart(6, '0')}`;
    writeFileSync(join(inbox, `.${id}.tmp`), `${JSON.stringify({ repo: repoDirs[i % repos], task: id })}\n`);
    renameSync(join(inbox, `.${id}.tmp`), join(inbox, `${id}.json`));
  }
  const w = startWorker({ node, cli, root, codexBin, concurrency, env });
  const rss = []; // the worker's RSS every 200 ms while the backlog is nearly all there
  const sampler = setInterval(() => rss.push(rssKiB(w.pid)), 200);
  try {
    if (!(await w.waitFor((x) => x.finished.length >= skip + measure, timeoutMs)))
      throw new Error(`backlog ${queued}: ${w.finished.length} filed before the timeout`);
  } finally {
    clearInterval(sampler);
    await w.stop();
  }
  const notDone = w.finished.filter((f) => f.kind !== 'done');
  if (notDone.length) throw new Error(`backlog ${queued}: ${notDone.length} job(s) not done, e.g. ${notDone[0].kind} ${notDone[0].id}`);
  const ms = w.finished[skip + measure - 1].t - w.finished[skip - 1].t;
  const rssKib = rss.filter((v) => v !== null);
  return {
    queued,
    concurrency,
    repos,
    measured_jobs: measure,
    ms,
    jobs_per_s: measure / (ms / 1000),
    rss_kib: rssKib,
  };
}

/**
 * Median µs to create an empty file in `dir` (open with O_CREAT, close): a fact of the machine's disk, as
 * `node -e 0` is of its CPU. A job creates about fifteen files and directories, nq's one: where this is
 * slow (0.5–1 ms in some directories of the machine the README's figures come from, 30–40 µs in others
 * of the same file system), so is every drain, codex-spool's far more than nq's.
 */
export function fileCreateUs(dir, n = 200) {
  const sub = mkdtempSync(join(dir, 'create-'));
  const us = [];
  for (let i = 0; i < n; i++) {
    const t = nowMs();
    closeSync(openSync(join(sub, `f${i}`), 'wx'));
    us.push((nowMs() - t) * 1000);
  }
  rmSync(sub, { recursive: true, force: true });
  return stats(us).median;
}
