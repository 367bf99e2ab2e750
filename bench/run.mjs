// codex-spool benchmark: `npm run bench` (builds, then runs this). Not part of the tests.
// Measures submit cost, pickup latency, throughput beside nq and task-spooler, worker RSS, `status` on a
// large spool and the bytes each command prints. Prints a table; writes every raw figure to bench/results.json.
// Every measured process gets a temp HOME and a temp root; all of it lives under one temp dir, removed at the end.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import {
  backlogRate,
  fileCreateUs,
  fmtMs,
  killLeftovers,
  nowMs,
  onPath,
  removeDir,
  rssKiB,
  spawnTracked,
  startWorker,
  stats,
  timeRun,
  wallMs,
  writeFastCodex,
} from './lib.mjs';
import { benchE2e } from './e2e.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = dirname(HERE);
const NODE = process.execPath;

const int = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt);
const CFG = {
  submitRuns: int('BENCH_SUBMIT_RUNS', 30),
  pickupRuns: int('BENCH_PICKUP_RUNS', 20),
  jobs: int('BENCH_JOBS', 1000), // the big queue: throughput and "1,000 queued"
  smallJobs: int('BENCH_SMALL_JOBS', 100), // full drains of a short queue, every tool
  capSeconds: int('BENCH_CAP_S', 30), // per codex-spool run on the big queue
  nqCapSeconds: int('BENCH_NQ_CAP_S', 100),
  statusJobs: int('BENCH_STATUS_JOBS', 10_000),
  statusRuns: int('BENCH_STATUS_RUNS', 10),
  e2eRuns: int('BENCH_E2E_RUNS', 10),
  backlog: int('BENCH_BACKLOG', 10_000),
  bareRuns: 30,
  warmup: 3,
};
/** BENCH_STEPS=2,5: run only the numbered steps listed (detection always runs); e.g. 2 alone gives the bytes rows. */
const STEPS = process.env.BENCH_STEPS?.split(',') ?? null;

const T = mkdtempSync(join(tmpdir(), 'codex-spool-bench-'));
const HOME = join(T, 'home');
const BIN = join(T, 'bin');
for (const d of [HOME, BIN, join(T, 'tmp'), join(T, 'repos')]) mkdirSync(d, { recursive: true });

// The CLI is run from a snapshot of dist/ (and of the fixtures) taken now: other people may rebuild dist/
// while the bench runs, and a half-written build must not break or skew it.
const APP = join(T, 'app');
const CLI = join(APP, 'dist', 'cli.js');
/** The Claude hook as `claude install` adds it (a bin of the package). */
const HOOK = join(APP, 'dist', 'codex-spool-hook');
const FAKE_CODEX = join(BIN, 'fake-codex');
const CODEX_FIXTURE = join(T, 'exec-json.jsonl');

const ENV = { ...process.env, HOME, CODEX_HOME: join(HOME, '.codex'), TMPDIR: join(T, 'tmp'), LC_ALL: 'C', NO_COLOR: '1' };
for (const k of ['CODEX_SPOOL_ROOT', 'CODEX_SPOOL_CODEX_BIN', 'NQDIR', 'TS_SOCKET', 'TS_SLOTS', 'FAKE_CODEX_LOG']) delete ENV[k];

const T0 = nowMs();
const elapsed = () => `${((nowMs() - T0) / 1000).toFixed(1)}s`;
const progress = (msg) => process.stderr.write(`[bench ${elapsed()}] ${msg}\n`);

const results = {
  meta: {
    date: new Date().toISOString(),
    node: process.version,
    kernel: release(),
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model ?? null,
    mem_mib: Math.round(totalmem() / 2 ** 20),
    loadavg_start: loadavg(),
    file_create_us: fileCreateUs(T), // the temp dir's: every drain below creates its files there
    config: CFG,
    method:
      'Wall times: process.hrtime around spawn() → close, the same for every command. p99 is nearest-rank (for n ≤ 100 it is the max). ' +
      'Pickup: job file renamed into inbox (time taken just before rename) → fake codex started ($EPOCHREALTIME in a bash wrapper that execs test/fixtures/fake-codex).',
  },
  tools: {},
  help: {},
  figures: {},
  not_measured: [],
  errors: [],
};

// --- scripts ------------------------------------------------------------------------------------------
/** A Codex that exits at once: thread.started, turn.completed, exit 0 (no agent message); answers --version for the worker. */
const FAST = writeFastCodex(join(BIN, 'fast-codex'));

/** Logs "<epoch seconds.micro> <task>" when started (not for --version or doctor), then execs the fake codex with the task. */
function timedCodex(label) {
  const path = join(BIN, `timed-codex-${label}`);
  const log = join(T, `starts-${label}.log`);
  writeFileSync(
    path,
    `#!/bin/bash
started=$EPOCHREALTIME task=\${!#}
[ "$task" = - ] && task=$(cat) # the worker passes the prompt on stdin
case "\${1:-}" in --version|doctor) ;; *) printf '%s %s\\n' "$started" "$task" >> '${log}' ;; esac
exec '${FAKE_CODEX}' "$@" <<< "$task"
`,
  );
  chmodSync(path, 0o755);
  return { path, log };
}

function startsOf(log) {
  if (!existsSync(log)) return new Map();
  const m = new Map();
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const i = line.indexOf(' ');
    if (i > 0) m.set(line.slice(i + 1), Number(line.slice(0, i)) * 1000);
  }
  return m;
}

/** Makes `root`'s spool as a worker would (submit refuses a root without one); returns its inbox. */
function withSpool(root) {
  const inbox = join(root, 'spool', 'inbox');
  mkdirSync(inbox, { recursive: true, mode: 0o700 });
  return inbox;
}

function repoDir(i) {
  const d = join(T, 'repos', `r${i}`);
  mkdirSync(d, { recursive: true });
  return d;
}

const sampleRss = async (pid, n, everyMs) => {
  const out = [];
  for (let i = 0; i < n; i++) {
    const v = rssKiB(pid);
    if (v !== null) out.push(v);
    await sleep(everyMs);
  }
  return out;
};

function snapshotBuild() {
  for (let attempt = 1; ; attempt++) {
    removeDir(APP);
    mkdirSync(APP, { recursive: true });
    cpSync(join(REPO, 'dist'), join(APP, 'dist'), { recursive: true });
    copyFileSync(join(REPO, 'package.json'), join(APP, 'package.json'));
    symlinkSync(join(REPO, 'node_modules'), join(APP, 'node_modules'), 'dir');
    const r = spawnSync(NODE, [CLI, '--help'], { env: ENV, encoding: 'utf8' }); // loads every command module
    if (r.status === 0) return attempt;
    if (attempt === 5) throw new Error(`the build in dist/ does not load: ${r.stderr.slice(0, 400)}`);
    spawnSync('sleep', ['3']); // a rebuild under way elsewhere: try again
  }
}
copyFileSync(join(REPO, 'test', 'fixtures', 'fake-codex'), FAKE_CODEX);
chmodSync(FAKE_CODEX, 0o755);
copyFileSync(join(REPO, 'test', 'fixtures', 'codex', 'exec-json.jsonl'), CODEX_FIXTURE);

// --- 0. what exists --------------------------------------------------------------------------------------
async function detect() {
  for (const cmd of ['submit', 'worker', 'status', 'result', 'wait']) {
    const r = await timeRun(NODE, [CLI, cmd, '--help'], { env: ENV });
    results.help[cmd] = r.code === 0;
  }
  const version = async (bin, args) => {
    const r = await execa(bin, args, { reject: false, env: ENV, stdin: 'ignore' });
    return (`${r.stdout}\n${r.stderr}`.trim().split('\n')[0] || null)?.slice(0, 80) ?? null;
  };
  const nq = onPath('nq');
  const tsp = onPath('tsp');
  const hf = onPath('hyperfine');
  results.tools.nq = nq ? { path: nq, version: 'nq (no --version flag; see dpkg)', dpkg: await dpkgVersion('nq') } : null;
  results.tools.tsp = tsp ? { path: tsp, version: await version(tsp, ['-V']), dpkg: await dpkgVersion('task-spooler') } : null;
  results.tools.hyperfine = hf ? { path: hf, version: await version(hf, ['--version']), used: false } : null;
}

async function dpkgVersion(pkg) {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: ${Version} is dpkg-query's own format field
  const r = await execa('dpkg-query', ['-W', '-f=${Version}', pkg], { reject: false });
  return r.exitCode === 0 ? r.stdout : null;
}

// --- 1. submit -------------------------------------------------------------------------------------------
async function benchSubmit() {
  const root = join(T, 'submit-root');
  const repo = repoDir('submit');
  const inbox = withSpool(root);
  const job = JSON.stringify({ repo, task: 'bench task' });
  const cmds = {
    node_e0: () => timeRun(NODE, ['-e', '0'], { env: ENV }),
    submit: (i) => timeRun(NODE, [CLI, 'submit', '--root', root, '--repo', repo, '--task', 'bench task', '--id', `s-${i}`], { env: ENV }),
    sh_echo: (i) => timeRun('sh', ['-c', `echo '${job}' > '${inbox}/e-${i}.json'`], { env: ENV }),
  };
  const names = Object.keys(cmds);
  for (let i = 0; i < CFG.warmup; i++) for (const n of names) await cmds[n](`w${i}`); // the first submit creates the spool
  const times = { node_e0: [], submit: [], sh_echo: [] };
  let submitOut = null;
  for (let i = 0; i < CFG.submitRuns; i++) {
    // interleaved, in a rotating order, so load from elsewhere hits all three alike
    for (let k = 0; k < names.length; k++) {
      const n = names[(i + k) % names.length];
      const r = await cmds[n](i);
      if (r.code !== 0) throw new Error(`${n} exited ${r.code}: ${r.stderr.slice(0, 300)}`);
      times[n].push(r.ms);
      if (n === 'submit') submitOut ??= r;
    }
  }
  const queued = readdirSync(inbox).filter((f) => f.startsWith('s-')).length;
  results.figures.submit = {
    runs: CFG.submitRuns,
    warmup: CFG.warmup,
    ms: times,
    stats: Object.fromEntries(names.map((n) => [n, stats(times[n])])),
    ratio_median_vs_node_e0: stats(times.submit).median / stats(times.node_e0).median,
    ratio_p99_vs_node_e0: stats(times.submit).p99 / stats(times.node_e0).p99,
    jobs_written: queued,
    stdout_example: submitOut?.stdout,
  };
}

// --- 2a. pickup, idle worker; 6. bytes printed ----------------------------------------------------------
// Two idle workers on two roots, default --settle-ms and --settle-ms 1, given jobs in turn (one job in
// flight at a time) so that load from elsewhere falls on both alike.
async function benchPickup() {
  const setups = [
    { label: 'default', settleMs: null },
    { label: 'settle1', settleMs: 1 },
  ].map((x) => {
    const root = join(T, `pickup-root-${x.label}`);
    const codex = timedCodex(x.label);
    const w = startWorker({
      node: NODE,
      cli: CLI,
      root,
      codexBin: codex.path,
      concurrency: 2,
      extraArgs: x.settleMs === null ? [] : ['--settle-ms', String(x.settleMs)],
      env: ENV,
    });
    return {
      ...x,
      root,
      inbox: join(root, 'spool', 'inbox'),
      repo: repoDir(`pickup-${x.label}`),
      codex,
      w,
      latency: [],
      logLatency: [],
      doneLatency: [],
    };
  });
  try {
    for (const x of setups) {
      if (!(await x.w.waitFor((w) => w.tReady !== null, 30_000))) throw new Error(`worker did not start: ${x.w.other.join(' | ')}`);
    }
    await sleep(1000); // let the first scans and the watchers settle
    const main = setups[0];
    const rssIdle = await sampleRss(main.w.pid, 10, 100);
    for (let i = 0; i < CFG.pickupRuns; i++) {
      for (let k = 0; k < setups.length; k++) {
        const x = setups[(i + k) % setups.length];
        const id = `p-${i}`;
        const task = `pickup-${i}`;
        const tmp = join(x.inbox, `.${id}.json.tmp`);
        writeFileSync(tmp, `${JSON.stringify({ repo: x.repo, task })}\n`);
        const t0 = wallMs();
        renameSync(tmp, join(x.inbox, `${id}.json`));
        if (!(await x.w.waitFor((w) => w.finished.some((f) => f.id === id), 20_000)))
          throw new Error(`job ${id} (${x.label}) did not finish`);
        const tStart = startsOf(x.codex.log).get(task);
        if (tStart === undefined) throw new Error(`no start time for ${task}`);
        x.latency.push(tStart - t0);
        const started = x.w.started.find((st) => st.id === id);
        if (started) x.logLatency.push(started.t - t0);
        x.doneLatency.push(x.w.finished.find((f) => f.id === id).t - t0); // its "done" line follows the done file
        await sleep(150 + Math.random() * 100); // idle again, at a random phase of the rescan timer
      }
    }
    const rssAfter = await sampleRss(main.w.pid, 10, 100);
    const fig = (x) => ({
      settle_ms: x.settleMs ?? 'default (50)',
      runs: CFG.pickupRuns,
      latency_ms: x.latency,
      stats: stats(x.latency),
      started_log_line_ms: x.logLatency,
      done_log_line_ms: x.doneLatency,
    });
    results.figures.pickup_idle = {
      ...fig(main),
      rss_idle_kib: rssIdle,
      rss_after_jobs_kib: rssAfter,
      clock_check_ms: Date.now() - wallMs(), // performance clock vs Date.now(): should be ~0
    };
    results.figures.pickup_idle_settle1 = fig(setups[1]);
    await benchBytes(main.root, main.repo);
  } finally {
    for (const x of setups) await x.w.stop();
  }
}

async function benchBytes(root, repo) {
  const b = { codex_fixture: CODEX_FIXTURE, codex_fixture_bytes: statSync(CODEX_FIXTURE).size };
  const id = 'bytes-1';
  // The root as a caller's commands find it ($CODEX_SPOOL_ROOT, as the hook below and Claude's plugin do): a
  // --root given on the command line is repeated in the commands submit and wait print, so that they reach it.
  const run = (args) => timeRun(NODE, [CLI, ...args], { env: { ...ENV, CODEX_SPOOL_ROOT: root } });
  // A Claude session that has heard of every job so far (its first contact), to be told of this one.
  const hook = () =>
    timeRun(NODE, [CLI, 'claude', 'hook'], {
      env: { ...ENV, CODEX_SPOOL_ROOT: root },
      input: JSON.stringify({ session_id: 'bench-bytes', hook_event_name: 'UserPromptSubmit' }),
    });
  await hook();
  const sub = await run(['submit', '--repo', repo, '--task', 'bench bytes', '--id', id]);
  if (sub.code !== 0) throw new Error(`submit exited ${sub.code}: ${sub.stderr}`);
  b.submit = { bytes: sub.bytes, stdout: sub.stdout, stderr: sub.stderr };
  const subJson = await run(['submit', '--repo', repo, '--task', 'bench bytes', '--id', `${id}-json`, '--json']);
  b.submit_json = { bytes: subJson.bytes, stdout: subJson.stdout };
  if (results.help.wait) {
    const r = await run(['wait', id, '--timeout', '30']);
    b.wait = { bytes: r.bytes, exit: r.code, stdout: r.stdout, stderr: r.stderr };
  } else b.wait = 'wait command not present';
  const donePath = join(root, 'spool', 'done', `${id}.json`);
  for (let i = 0; i < 200 && !existsSync(donePath); i++) await sleep(50);
  const doneText = readFileSync(donePath, 'utf8');
  const done = JSON.parse(doneText);
  b.final_message = done.result?.final_message ?? null;
  b.final_message_bytes = Buffer.byteLength(b.final_message ?? '');
  b.done_file_bytes = Buffer.byteLength(doneText);
  if (results.help.result) {
    const r = await run(['result', id]);
    b.result = { bytes: r.bytes, exit: r.code, stdout: r.stdout, stderr: r.stderr };
    const rj = await run(['result', id, '--json']);
    b.result_json = { bytes: rj.bytes, exit: rj.code };
  } else b.result = 'result command not present';
  const digest = await hook();
  const told = digest.stdout.split('(codex-spool result ').length - 1; // this job and its --json twin
  b.hook_digest = { bytes: digest.bytes, jobs: told, bytes_per_job: digest.bytes / told, stdout: digest.stdout };
  const st = await run(['status', '--all']);
  const jobLines = st.stdout.split('\n').filter((l) => /^(p-\d+|bytes-1\S*) /.test(l)).length;
  b.status_all = { bytes: st.bytes, jobs: jobLines, bytes_per_job: st.bytes / jobLines };
  results.figures.bytes = b;
  doneTemplate = { text: doneText, record: done };
}
let doneTemplate = null;

// --- 3. throughput (and 2b: pickup with the queue full, 4: RSS with the queue full) ----------------------
function batchFile(n) {
  const path = join(T, `batch-${n}.jsonl`);
  if (!existsSync(path)) {
    const lines = [];
    for (let i = 1; i <= n; i++) lines.push(JSON.stringify({ id: `j${String(i).padStart(5, '0')}`, repo: repoDir(i), task: `t${i}` }));
    writeFileSync(path, `${lines.join('\n')}\n`);
  }
  return path;
}

async function bareCodex() {
  const ms = [];
  for (let i = 0; i < CFG.warmup; i++) await timeRun(FAST, ['exec', '--json', '--', 'w'], { env: ENV });
  for (let i = 0; i < CFG.bareRuns; i++) ms.push((await timeRun(FAST, ['exec', '--json', '--', `t${i}`], { env: ENV })).ms);
  return { runs: CFG.bareRuns, ms, stats: stats(ms) };
}

const diffs = (ts) => ts.slice(1).map((t, i) => t - ts[i]);

/** The floor rows' rates, for the c=4 target's line: what a Node process doing far less than the worker reaches. */
function floorNote(tp) {
  const rate = (mode) => tp.find((r) => r.tool === 'floor' && r.label.startsWith(`floor: ${mode}`) && !r.error)?.jobs_per_s;
  const [spawnOnly, durable] = [rate('execa spawns only'), rate('least durable')];
  return spawnOnly && durable ? `; floor: execa spawns only ${spawnOnly.toFixed(0)}, least durable Node worker ${durable.toFixed(0)}` : '';
}

async function runSpool(n, concurrency, capS) {
  const root = join(T, `tp-spool-c${concurrency}-n${n}`);
  withSpool(root);
  const enq = await timeRun(NODE, [CLI, 'submit', '--root', root, '--batch', batchFile(n)], { env: ENV });
  if (enq.code !== 0) throw new Error(`submit --batch exited ${enq.code}: ${enq.stderr.slice(0, 300)}${enq.stdout.slice(-300)}`);
  const queued = readdirSync(join(root, 'spool', 'inbox')).length;
  const w = startWorker({ node: NODE, cli: CLI, root, codexBin: FAST, concurrency, env: ENV });
  const rss = [];
  const sampler = setInterval(() => {
    const kib = rssKiB(w.pid);
    if (kib !== null) rss.push({ t_ms: wallMs() - w.tSpawn, kib, finished: w.finished.length });
  }, 200);
  let capped = false;
  try {
    capped = !(await w.waitFor((x) => x.finished.length >= n, capS * 1000));
  } finally {
    clearInterval(sampler);
  }
  const tCut = wallMs();
  const finished = w.finished.filter((f) => f.t <= tCut);
  const started = w.started.filter((s) => s.t <= tCut);
  await w.stop();
  const done = finished.filter((f) => f.kind === 'done').length;
  const tLast = finished.length ? finished[finished.length - 1].t : null;
  const elapsedMs = tLast === null ? null : tLast - w.tSpawn;
  return {
    tool: 'codex-spool',
    concurrency,
    jobs_queued: queued,
    enqueue: { how: 'one `submit --batch` process', ms: enq.ms, output: enq.stdout.trim().split('\n').slice(-1)[0] },
    capped,
    cap_s: capS,
    completed: done,
    not_succeeded: finished.length - done,
    elapsed_ms: elapsedMs, // worker spawn → last job filed
    jobs_per_s: elapsedMs ? done / (elapsedMs / 1000) : null,
    per_job_ms: done ? elapsedMs / done : null,
    worker_ready_ms: w.tReady === null ? null : w.tReady - w.tSpawn,
    first_start_ms: started.length ? started[0].t - w.tSpawn : null, // worker spawn → "started" line of the first job
    first_done_ms: finished.length ? finished[0].t - w.tSpawn : null,
    start_interval_ms: diffs(started.map((s) => s.t)),
    finish_interval_ms: diffs(finished.map((f) => f.t)),
    rss_samples: rss,
    worker_other_lines: w.other.slice(0, 20),
  };
}

/** bench/floor.mjs: a Node process doing far less than the worker per job (see its header), c=4. */
async function runFloor(mode, n) {
  const r = await timeRun(NODE, [join(HERE, 'floor.mjs'), mode, join(T, `tp-floor-${mode}-n${n}`), String(n), '4', FAST], { env: ENV });
  if (r.code !== 0) throw new Error(`floor.mjs ${mode} exited ${r.code}: ${r.stderr.slice(0, 300)}`);
  const f = JSON.parse(r.stdout);
  return {
    tool: 'floor',
    concurrency: 4,
    jobs_queued: n,
    completed: f.jobs,
    elapsed_ms: f.seconds * 1000,
    jobs_per_s: f.jobs_per_s,
    per_job_ms: (f.seconds * 1000) / f.jobs,
    rss_mib: f.rss_mib,
  };
}

async function runNq(nq, n, capS) {
  const dir = join(T, `tp-nq-n${n}`);
  mkdirSync(dir, { recursive: true });
  const env = { ...ENV, NQDIR: dir };
  const t0 = wallMs();
  const enqMs = [];
  for (let i = 1; i <= n; i++) {
    const r = await timeRun(nq, ['-q', FAST, 'exec', '--json', '--', `t${i}`], { env });
    if (r.code !== 0) throw new Error(`nq exited ${r.code}: ${r.stderr}`);
    enqMs.push(r.ms);
    if (wallMs() - t0 > capS * 1000) break;
  }
  const tEnq = wallMs();
  const waiter = spawnTracked(nq, ['-w'], { env, stdio: 'ignore' });
  const left = Math.max(0, capS * 1000 - (wallMs() - t0));
  const capped = !(await Promise.race([new Promise((r) => waiter.on('exit', () => r(true))), sleep(left).then(() => false)]));
  const tEnd = wallMs();
  if (capped) waiter.kill('SIGKILL');
  const files = readdirSync(dir).filter((f) => f.startsWith(','));
  const ends = [];
  let done = 0;
  for (const f of files) {
    const p = join(dir, f);
    if (readFileSync(p, 'utf8').includes('[exited with status 0.]')) {
      done++;
      ends.push(statSync(p).mtimeMs);
    } else if (capped) {
      const pid = Number(f.split('.').pop());
      try {
        process.kill(pid, 'SIGKILL'); // an nq job of ours still waiting for its turn
      } catch {
        /* gone */
      }
    }
  }
  ends.sort((a, b) => a - b);
  const elapsedMs = capped ? tEnd - t0 : tEnd - t0;
  return {
    tool: 'nq',
    concurrency: 1,
    jobs_queued: enqMs.length,
    enqueue: { how: `${enqMs.length} sequential \`nq -q\` calls (jobs start at once)`, ms: tEnq - t0, per_call: stats(enqMs) },
    capped,
    cap_s: capS,
    completed: done,
    not_succeeded: files.length - done,
    elapsed_ms: elapsedMs, // first enqueue → `nq -w` returned
    jobs_per_s: done / (elapsedMs / 1000),
    per_job_ms: done ? elapsedMs / done : null,
    finish_interval_ms: diffs(ends),
  };
}

async function runTsp(tsp, n, slots, capS) {
  const dir = join(T, `tp-tsp-s${slots}-n${n}`);
  mkdirSync(dir, { recursive: true });
  const env = { ...ENV, TS_SOCKET: join(dir, 'socket'), TMPDIR: dir, TS_MAXFINISHED: String(n + 100), TS_SLOTS: String(slots) };
  try {
    const s = await timeRun(tsp, ['-S', String(slots)], { env }); // starts the server
    if (s.code !== 0) throw new Error(`tsp -S exited ${s.code}: ${s.stderr}`);
    const t0 = wallMs();
    const enqMs = [];
    for (let i = 1; i <= n; i++) {
      const r = await timeRun(tsp, [FAST, 'exec', '--json', '--', `t${i}`], { env });
      if (r.code !== 0) throw new Error(`tsp exited ${r.code}: ${r.stderr}`);
      enqMs.push(r.ms);
    }
    const tEnq = wallMs();
    await timeRun(tsp, ['-w'], { env }); // the last job added
    let tEnd = wallMs();
    let finished = 0;
    let ok = 0;
    let capped = false;
    for (;;) {
      const l = await timeRun(tsp, ['-l'], { env });
      const rows = l.stdout
        .split('\n')
        .slice(1)
        .map((x) => x.trim().split(/\s+/));
      finished = rows.filter((r) => r[1] === 'finished').length;
      ok = rows.filter((r) => r[1] === 'finished' && r[3] === '0').length;
      if (finished >= n) break;
      if (wallMs() - t0 > capS * 1000) {
        capped = true;
        break;
      }
      await sleep(20);
      tEnd = wallMs();
    }
    const elapsedMs = tEnd - t0;
    return {
      tool: 'tsp',
      concurrency: slots,
      jobs_queued: n,
      enqueue: { how: `${n} sequential \`tsp\` calls (jobs start at once)`, ms: tEnq - t0, per_call: stats(enqMs) },
      capped,
      cap_s: capS,
      completed: ok,
      not_succeeded: finished - ok,
      elapsed_ms: elapsedMs, // first enqueue → all finished (`tsp -w` on the last job, then `tsp -l` polled)
      jobs_per_s: ok / (elapsedMs / 1000),
      per_job_ms: ok ? elapsedMs / ok : null,
    };
  } finally {
    await timeRun(tsp, ['-K'], { env }).catch(() => {});
  }
}

async function benchThroughput() {
  const bare = await bareCodex();
  results.figures.bare_fast_codex = bare;
  const nq = results.tools.nq?.path;
  const tsp = results.tools.tsp?.path;
  const runs = [];
  const add = async (label, fn) => {
    progress(`throughput: ${label}`);
    const before = new Set(readdirSync(T));
    try {
      const r = await fn();
      r.label = label;
      r.overhead_ms_per_job = r.per_job_ms === null ? null : r.per_job_ms - bare.stats.median;
      runs.push(r);
    } catch (err) {
      results.errors.push(`${label}: ${err.message}`);
      runs.push({ label, error: err.message });
    } finally {
      // this run's spool, nq dir or tsp dir: removed now, outside the timed part, so the end is quick
      for (const d of readdirSync(T)) if (!before.has(d)) removeDir(join(T, d));
    }
  };
  for (const n of [CFG.smallJobs, CFG.jobs]) {
    await add(`codex-spool c=1 n=${n}`, () => runSpool(n, 1, n === CFG.jobs ? CFG.capSeconds : 120));
    await add(`codex-spool c=4 n=${n}`, () => runSpool(n, 4, n === CFG.jobs ? CFG.capSeconds : 120));
    if (nq) await add(`nq n=${n}`, () => runNq(nq, n, CFG.nqCapSeconds));
    else runs.push({ label: `nq n=${n}`, tool: 'nq', missing: true });
    if (n === CFG.smallJobs) {
      await add(`floor: execa spawns only, c=4 n=${n}`, () => runFloor('spawn', n));
      await add(`floor: least durable Node worker, c=4 n=${n}`, () => runFloor('durable', n));
    }
    if (tsp) {
      await add(`tsp -S 1 n=${n}`, () => runTsp(tsp, n, 1, 120));
      await add(`tsp -S 4 n=${n}`, () => runTsp(tsp, n, 4, 120));
    } else runs.push({ label: `tsp n=${n}`, tool: 'tsp', missing: true });
  }
  results.figures.throughput = runs;
}

// --- 5. status on 10,000 finished jobs -------------------------------------------------------------------
async function benchStatus() {
  if (!results.help.status) {
    results.figures.status = 'status command not present';
    results.not_measured.push('status: command not present (`status --help` did not exit 0)');
    return;
  }
  const root = join(T, 'status-root');
  for (const s of ['inbox', 'deferred', 'active', 'done', 'failed', 'rejected']) mkdirSync(join(root, 'spool', s), { recursive: true });
  mkdirSync(join(root, 'runs'), { recursive: true });
  const tpl = doneTemplate?.record ?? null;
  if (!tpl) throw new Error('no real done file to copy the shape of (the bytes run failed)');
  const pretty = doneTemplate.text.includes('\n  ');
  const tGen = nowMs();
  for (let i = 0; i < CFG.statusJobs; i++) {
    const id = `st-${String(i).padStart(5, '0')}`;
    const runId = `20260101-000000-${i.toString(16).padStart(8, '0')}`;
    const rec = structuredClone(tpl);
    rec.task = `bench status job ${i}`;
    if (rec.result) {
      rec.result.run_id = runId;
      rec.result.session_id = `0199a213-81c0-7800-8aa1-${i.toString(16).padStart(12, '0')}`;
      if (typeof rec.result.summary === 'string') rec.result.summary = join(root, 'runs', runId, 'summary.json');
    }
    writeFileSync(join(root, 'spool', 'done', `${id}.json`), `${pretty ? JSON.stringify(rec, null, 2) : JSON.stringify(rec)}\n`);
  }
  // Copied files have no line in spool/finished.log, as a worker's filings would: prune --yes (which removes
  // nothing this young) writes it, so status orders them as it would jobs the worker filed.
  const pruned = await timeRun(NODE, [CLI, 'prune', '--older-than', '3650d', '--yes', '--root', root], { env: ENV });
  if (pruned.code !== 0) throw new Error(`prune exited ${pruned.code}: ${pruned.stderr.slice(0, 300)}`);
  const genMs = nowMs() - tGen;
  /**
   * `runs` runs of `cmd` (the CLI) with `args`, each after a `node -e 0` (the ratio's base, under the same
   * load). `input(i)`: the stdin of run i (the Claude hook reads its event there). The root comes from
   * $CODEX_SPOOL_ROOT, as for the installed hook (`codex-spool-hook`, no option).
   */
  const env = { ...ENV, CODEX_SPOOL_ROOT: root };
  const time = async (args, runs, input = () => undefined, cmd = [NODE, CLI], prep = () => undefined) => {
    const ms = [];
    const node = [];
    let last = null;
    const run = (i) => timeRun(cmd[0], [...cmd.slice(1), ...args], { env, input: input(i) });
    await run(-1); // warm-up (page cache)
    for (let i = 0; i < runs; i++) {
      node.push((await timeRun(NODE, ['-e', '0'], { env })).ms);
      prep();
      const r = await run(i);
      if (r.code !== 0) throw new Error(`${args.join(' ')} exited ${r.code}: ${r.stderr.slice(0, 300)}`);
      ms.push(r.ms);
      last = r;
    }
    const st = stats(ms);
    return {
      args,
      runs,
      ms,
      stats: st,
      node_e0_ms: node,
      ratio_vs_node_e0: st.median / stats(node).median,
      output_bytes: last.bytes,
      output_tail: last.stdout.trim().split('\n').slice(-1)[0],
    };
  };
  const hookEvent = (session) => JSON.stringify({ session_id: session, hook_event_name: 'UserPromptSubmit', cwd: root });
  // As a spool is when nobody has filed a job for a few seconds (done/ quiet): the first status saves
  // spool/listing.cache, the warm-up run. And as while a worker files jobs: done/ changed just now.
  const done = join(root, 'spool', 'done');
  const setDoneMtime = (s) => utimesSync(done, s, s);
  setDoneMtime(Date.now() / 1000 - 60);
  const busy = await time(['status'], CFG.statusRuns, undefined, undefined, () => setDoneMtime(Date.now() / 1000));
  setDoneMtime(Date.now() / 1000 - 60);
  results.figures.status = {
    finished_jobs: CFG.statusJobs,
    generate_ms: genMs,
    default: await time(['status'], CFG.statusRuns),
    just_filed: busy,
    all: await time(['status', '--all'], 3),
    // The Claude hook runs before every prompt, as installed: dist/codex-spool-hook (sh). A new session goes
    // on to Node, which lists the spool once; after that, nothing new is the shell's few stats (its warm-up
    // run writes the session's stamp). And the Node hook alone, as older installs run it.
    hook_first: await time([], CFG.statusRuns, (i) => hookEvent(`bench-first-${i}`), [HOOK]),
    hook_again: await time([], CFG.statusRuns, () => hookEvent('bench-again'), [HOOK]),
    hook_again_node: await time(['claude', 'hook'], CFG.statusRuns, () => hookEvent('bench-again-node')),
  };
  removeDir(root);
}

// --- 7. end to end with the real Codex CLI; 8. backlog ------------------------------------------------------
async function benchEndToEnd() {
  const dir = join(T, 'e2e');
  mkdirSync(dir);
  results.figures.e2e = await benchE2e({ node: NODE, cli: CLI, dir, baseEnv: ENV, runs: CFG.e2eRuns });
  removeDir(dir);
}

/** Jobs/s at --concurrency 4 over 40 repos with CFG.backlog queued and with 100 (fast Codex), and the worker's RSS. */
async function benchBacklog() {
  const rate = async (queued) => {
    const dir = join(T, `backlog-${queued}`);
    const r = await backlogRate({ node: NODE, cli: CLI, dir, queued, repos: 40, concurrency: 4, codexBin: FAST, env: ENV });
    removeDir(dir);
    return r;
  };
  const small = await rate(100);
  const big = await rate(CFG.backlog);
  results.figures.backlog = { small, big, ratio: big.jobs_per_s / small.jobs_per_s };
}

// --- report ----------------------------------------------------------------------------------------------
function table() {
  const f = results.figures;
  const rows = [];
  const row = (figure, med, p99, n, cmp) => rows.push([figure, med, p99, String(n), cmp]);
  const kb = (v) => (v === null || v === undefined ? '—' : `${(v / 1024).toFixed(1)} MiB`);
  if (f.submit) {
    const s = f.submit.stats;
    row(
      '1 submit wall (spawn→exit)',
      fmtMs(s.submit.median),
      fmtMs(s.submit.p99),
      s.submit.n,
      `node -e 0 ${fmtMs(s.node_e0.median)}/${fmtMs(s.node_e0.p99)} → ${f.submit.ratio_median_vs_node_e0.toFixed(2)}× (p99 ${f.submit.ratio_p99_vs_node_e0.toFixed(2)}×); sh -c echo>inbox ${fmtMs(s.sh_echo.median)}/${fmtMs(s.sh_echo.p99)}`,
    );
  } else if (!STEPS || STEPS.includes('1')) row('1 submit wall', 'error', '', '', '');
  const p = f.pickup_idle;
  if (p)
    row(
      '2 pickup, idle worker (rename→codex start)',
      fmtMs(p.stats.median),
      fmtMs(p.stats.p99),
      p.stats.n,
      `--settle-ms 50 (default); min ${fmtMs(p.stats.min)}; "started" log line ${fmtMs(stats(p.started_log_line_ms).median)}`,
    );
  if (p)
    row(
      '2 echo→done, idle worker (rename→"done" line)',
      fmtMs(stats(p.done_log_line_ms).median),
      fmtMs(stats(p.done_log_line_ms).p99),
      p.done_log_line_ms.length,
      "the job's whole path through the spool (claim, run of the fast fake, result filed), one job at a time",
    );
  const p1 = f.pickup_idle_settle1;
  if (p1)
    row(
      '2 pickup, idle, --settle-ms 1 (diagnostic)',
      fmtMs(p1.stats.median),
      fmtMs(p1.stats.p99),
      p1.stats.n,
      `same moments as the row above (alternating jobs): what the 50 ms settle costs`,
    );
  const tp = f.throughput ?? [];
  const big = (label) => tp.find((r) => r.label === label);
  const b1 = big(`codex-spool c=1 n=${CFG.jobs}`);
  if (b1 && !b1.error) {
    row(
      `2 pickup, ${b1.jobs_queued} queued: spawn→1st job start`,
      fmtMs(b1.first_start_ms),
      '',
      1,
      `worker ready line at ${fmtMs(b1.worker_ready_ms)}; c=1`,
    );
    const si = stats(b1.start_interval_ms);
    row(
      `2 claim interval, ~${b1.jobs_queued} queued (c=1)`,
      fmtMs(si.median),
      fmtMs(si.p99),
      si.n,
      si.median ? `→ ${(1000 / si.median).toFixed(1)} claims/s` : '',
    );
  }
  const bare = f.bare_fast_codex;
  if (bare)
    row('3 bare fast codex (spawn→exit)', fmtMs(bare.stats.median), fmtMs(bare.stats.p99), bare.stats.n, 'floor of any per-job time');
  const nqOf = (n) => tp.find((r) => r.label === `nq n=${n}`);
  for (const r of tp) {
    if (r.missing) {
      row(`3 ${r.label}`, 'not installed', '', '', `apt-get install -y ${r.tool === 'nq' ? 'nq' : 'task-spooler'}`);
      continue;
    }
    if (r.error) {
      row(`3 ${r.label}`, 'error', '', '', r.error.slice(0, 80));
      continue;
    }
    const iv = r.finish_interval_ms ? stats(r.finish_interval_ms) : null;
    const n = r.label.split('n=')[1];
    const nq = nqOf(n);
    let cmp = `${r.jobs_per_s.toFixed(1)} jobs/s, ${fmtMs(r.per_job_ms)}/job, overhead ${fmtMs(r.overhead_ms_per_job)}/job`;
    if (r.capped) cmp += `; CAPPED at ${r.cap_s} s: ${r.completed}/${r.jobs_queued} done`;
    else cmp += `; ${r.completed}/${r.jobs_queued} in ${fmtMs(r.elapsed_ms)}`;
    if (r.tool !== 'nq' && nq && !nq.error && !nq.missing) cmp += `; ${(r.jobs_per_s / nq.jobs_per_s).toFixed(2)}× nq`;
    if (r.tool === 'floor') cmp += `; bench/floor.mjs, ${r.rss_mib.toFixed(0)} MiB RSS at its end`;
    row(`3 ${r.label}${r.tool === 'codex-spool' ? '' : ''}`, iv ? fmtMs(iv.median) : '—', iv ? fmtMs(iv.p99) : '—', r.completed, cmp);
  }
  const enq = [`codex-spool c=1 n=${CFG.jobs}`, `nq n=${CFG.jobs}`, `tsp -S 1 n=${CFG.jobs}`]
    .map(big)
    .filter((r) => r && !r.error && r.enqueue);
  if (enq.length)
    row(
      `3 enqueue ${CFG.jobs} jobs (wall)`,
      '',
      '',
      CFG.jobs,
      `${enq.map((r) => `${r.tool} ${fmtMs(r.enqueue.ms)}`).join('; ')} (spool: one submit --batch; nq/tsp: one call per job)`,
    );
  if (p) {
    const ri = stats(p.rss_idle_kib);
    row('4 worker RSS, idle', kb(ri.median), kb(ri.p99), ri.n, `after ${p.runs} jobs: ${kb(stats(p.rss_after_jobs_kib).median)}`);
  }
  if (b1 && !b1.error) {
    const full = b1.rss_samples.filter((s) => s.finished <= b1.jobs_queued * 0.1 && s.t_ms >= b1.first_start_ms).map((s) => s.kib);
    const rs = stats(full);
    row(
      `4 worker RSS, ≥${Math.round(b1.jobs_queued * 0.9)} queued (c=1 run)`,
      kb(rs.median),
      kb(rs.p99),
      rs.n,
      `max ${kb(rs.max)} (200 ms samples from the first job on)`,
    );
  }
  if (typeof f.status === 'string') row('5 status, 10,000 finished', f.status, '', '', '');
  else if (f.status) {
    const s = f.status.default.stats;
    const a = f.status.all.stats;
    const vsNode = (x) => `${x.ratio_vs_node_e0.toFixed(2)}× node -e 0 (${fmtMs(stats(x.node_e0_ms).median)}, interleaved)`;
    row(
      `5 status, ${f.status.finished_jobs} done jobs`,
      fmtMs(s.median),
      fmtMs(s.p99),
      s.n,
      `${vsNode(f.status.default)}; ${f.status.default.output_bytes} B out; --all ${fmtMs(a.median)}/${fmtMs(a.p99)} n=${a.n}`,
    );
    const b = f.status.just_filed;
    if (b)
      row(
        `5 status, ${f.status.finished_jobs} done, done/ just changed`,
        fmtMs(b.stats.median),
        fmtMs(b.stats.p99),
        b.stats.n,
        `${vsNode(b)}; as while a worker files jobs: no listing.cache`,
      );
    for (const [label, h] of [
      ['new session', f.status.hook_first],
      ['nothing new', f.status.hook_again],
      ['nothing new, Node (`codex-spool claude hook`)', f.status.hook_again_node],
    ]) {
      if (!h) continue;
      row(
        `5 claude hook, ${label}`,
        fmtMs(h.stats.median),
        fmtMs(h.stats.p99),
        h.stats.n,
        `${vsNode(h)}; ${h.output_bytes} B out; ${f.status.finished_jobs} done jobs`,
      );
    }
  }
  const by = f.bytes;
  if (by) {
    row('6 bytes: submit (stdout+stderr)', `${by.submit.bytes} B`, '', 1, `--json ${by.submit_json.bytes} B`);
    if (typeof by.result === 'object')
      row(
        '6 bytes: result ID',
        `${by.result.bytes} B`,
        '',
        1,
        `final message ${by.final_message_bytes} B; --json ${by.result_json.bytes} B`,
      );
    else row('6 bytes: result', by.result, '', '', '');
    if (typeof by.wait === 'object') row('6 bytes: wait ID', `${by.wait.bytes} B`, '', 1, '');
    else row('6 bytes: wait', by.wait, '', '', '');
    row(
      '6 bytes: claude hook digest per job',
      `${by.hook_digest.bytes_per_job.toFixed(0)} B`,
      '',
      by.hook_digest.jobs,
      `${by.hook_digest.bytes} B for ${by.hook_digest.jobs} jobs, the JSON wrapper and header included`,
    );
    row(
      '6 bytes: status --all per job',
      `${by.status_all.bytes_per_job.toFixed(0)} B`,
      '',
      by.status_all.jobs,
      `${by.status_all.bytes} B for ${by.status_all.jobs} jobs, header and totals included`,
    );
    row(
      '6 bytes: Codex stdout for that job',
      `${by.codex_fixture_bytes} B`,
      '',
      1,
      'test/fixtures/codex/exec-json.jsonl: a small mocked run; real runs print far more',
    );
  }
  const e = f.e2e;
  if (e) {
    const st = e.stats;
    row(
      '7 raw codex exec --json (real Codex, mock)',
      fmtMs(st.raw_ms.median),
      fmtMs(st.raw_ms.p99),
      st.raw_ms.n,
      `${e.codex_version}; spawn→exit, ${e.raw_stdout_bytes} B of events`,
    );
    row(
      '7 echo>inbox → done/ file (real Codex)',
      fmtMs(st.spool_ms.median),
      fmtMs(st.spool_ms.p99),
      st.spool_ms.n,
      `raw + ${fmtMs(e.over_raw_ms)} (medians, interleaved; done file seen by fs.watch)`,
    );
    row(
      '7   pickup: echo → Codex started',
      fmtMs(st.pickup_ms.median),
      fmtMs(st.pickup_ms.p99),
      st.pickup_ms.n,
      'wrapped Codex (bash logs its start and exit); the sh that echoes included',
    );
    row(
      '7   Codex started → exited, under the worker',
      fmtMs(st.codex_under_worker_ms.median),
      fmtMs(st.codex_under_worker_ms.p99),
      st.codex_under_worker_ms.n,
      `raw ${fmtMs(st.raw_ms.median)} (raw includes its own spawn)`,
    );
    row(
      '7   filing: Codex exited → done/ file',
      fmtMs(st.filing_ms.median),
      fmtMs(st.filing_ms.p99),
      st.filing_ms.n,
      'git status after the run, summary, meta, done file, each fsynced',
    );
  }
  const bl = f.backlog;
  if (bl) {
    row(
      `8 backlog: ${bl.big.queued} queued, c=4, 40 repos`,
      `${bl.big.jobs_per_s.toFixed(1)}/s`,
      '',
      bl.big.measured_jobs,
      `${bl.ratio.toFixed(2)}× the rate with ${bl.small.queued} queued (${bl.small.jobs_per_s.toFixed(1)}/s)`,
    );
    const r = stats(bl.big.rss_kib);
    row(`8 worker RSS, ${bl.big.queued} queued`, kb(r.median), kb(r.max), r.n, 'max in the p99 column (200 ms samples)');
  }
  const head = ['figure', 'median', 'p99', 'n', 'comparison'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r) => r.map((c, i) => (i === 4 ? c : i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const notes = [
    'Rows 1, 2, 5: wall times of processes (median, nearest-rank p99). Row 3: median/p99 are intervals between consecutive',
    'job completions (tsp: not observable, —); n = jobs completed; jobs/s and per-job = completed / (start → last job done);',
    "overhead = per-job − bare fast codex median (the bare figure includes node's own spawn cost, so tools that fork from C can go ≤ 0).",
  ];
  return [fmt(head), widths.map((w, i) => '-'.repeat(i === 4 ? 10 : w)).join('  '), ...rows.map(fmt), '', ...notes].join('\n');
}

function targets() {
  const f = results.figures;
  const out = [];
  const t = (name, value, ok) => out.push({ target: name, value, met: ok });
  const x = (v) => `${v.toFixed(2)}×`;
  if (f.submit) t('submit ≤ 1.3× node -e 0 (median)', x(f.submit.ratio_median_vs_node_e0), f.submit.ratio_median_vs_node_e0 <= 1.3);
  if (f.status?.hook_again)
    t('claude hook, nothing new ≤ 1.1× node -e 0', x(f.status.hook_again.ratio_vs_node_e0), f.status.hook_again.ratio_vs_node_e0 <= 1.1);
  if (f.status?.hook_again)
    t('claude hook, nothing new < 20 ms (no Node)', fmtMs(f.status.hook_again.stats.median), f.status.hook_again.stats.median < 20);
  if (f.e2e) t('echo → done/ ≤ raw codex exec + 50 ms (real Codex, medians)', `+${fmtMs(f.e2e.over_raw_ms)}`, f.e2e.over_raw_ms <= 50);
  if (f.pickup_idle)
    t('pickup p50 ≤ 20 ms, complete file (idle worker)', fmtMs(f.pickup_idle.stats.median), f.pickup_idle.stats.median <= 20);
  const tp = f.throughput ?? [];
  const nq = tp.find((r) => r.label === `nq n=${CFG.smallJobs}`);
  const c4 = tp.find((r) => r.label === `codex-spool c=4 n=${CFG.smallJobs}`);
  if (tp.length && (!nq || nq.missing || nq.error)) t(`c=4 jobs/s ≥ nq's (n=${CFG.smallJobs})`, 'nq not installed or failed', null);
  else if (c4 && !c4.error)
    t(
      `c=4 jobs/s ≥ nq's (n=${CFG.smallJobs})`,
      `${c4.jobs_per_s.toFixed(1)} vs nq ${nq.jobs_per_s.toFixed(1)} (${x(c4.jobs_per_s / nq.jobs_per_s)})${floorNote(tp)}`,
      c4.jobs_per_s >= nq.jobs_per_s,
    );
  if (f.backlog) {
    const rss = stats(f.backlog.big.rss_kib).max / 1024;
    t(`worker RSS with ${f.backlog.big.queued} queued ≤ 120 MiB`, `${rss.toFixed(1)} MiB (max)`, rss <= 120);
    t(
      `backlog: jobs/s with ${f.backlog.big.queued} queued ≥ 0.9× with ${f.backlog.small.queued}`,
      x(f.backlog.ratio),
      f.backlog.ratio >= 0.9,
    );
  }
  if (f.status?.default)
    t(
      `status on ${f.status.finished_jobs} finished ≤ 1.5× node -e 0`,
      x(f.status.default.ratio_vs_node_e0),
      f.status.default.ratio_vs_node_e0 <= 1.5,
    );
  const by = f.bytes;
  if (by) {
    t('bytes: submit ≤ 100 B', `${by.submit.bytes} B`, by.submit.bytes <= 100);
    if (typeof by.result === 'object')
      t(
        'bytes: result ≤ 350 B + final message',
        `${by.result.bytes} B (limit ${350 + by.final_message_bytes} B)`,
        by.result.bytes <= 350 + by.final_message_bytes,
      );
    t(
      'bytes: hook digest ≤ 250 B per job, wrapper included',
      `${by.hook_digest.bytes_per_job.toFixed(0)} B (${by.hook_digest.jobs} jobs)`,
      by.hook_digest.jobs > 0 && by.hook_digest.bytes_per_job <= 250,
    );
    t('bytes: status ≤ 100 B per job', `${by.status_all.bytes_per_job.toFixed(0)} B`, by.status_all.bytes_per_job <= 100);
  }
  return out;
}

// --- main ------------------------------------------------------------------------------------------------
let cleaning = null;
async function cleanup() {
  return (cleaning ??= (async () => {
    progress('cleanup: processes…');
    const n = await killLeftovers(T).catch(() => 0);
    if (n) progress(`cleanup: ended ${n} leftover process(es) of this bench`);
    progress('cleanup: temp dir…');
    removeDir(T);
    progress('cleanup done');
  })());
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    progress(`${sig}: cleaning up`);
    void cleanup().then(() => process.exit(130));
  });
}

async function step(name, fn) {
  const number = /^\d+/.exec(name)?.[0];
  if (STEPS && number && !STEPS.includes(number)) return;
  progress(`${name}…`);
  try {
    await fn();
  } catch (err) {
    results.errors.push(`${name}: ${err.message}`);
    progress(`${name} FAILED: ${err.message}`);
  }
}

try {
  if (!existsSync(join(REPO, 'dist', 'cli.js'))) throw new Error('dist/cli.js missing: run `npm run build` (npm run bench does)');
  results.meta.build_snapshot_attempts = snapshotBuild();
  await step('detect', detect);
  for (const [tool, pkg] of [
    ['nq', 'nq'],
    ['tsp', 'task-spooler'],
  ]) {
    if (!results.tools[tool]) results.not_measured.push(`${tool}: not installed (apt-get install -y ${pkg})`);
  }
  await step('1 submit', benchSubmit);
  await step('2 pickup idle, default and --settle-ms 1 (+6 bytes)', benchPickup);
  await step('5 status', benchStatus);
  await step('3 throughput', benchThroughput);
  await step('7 end to end, real Codex', benchEndToEnd);
  await step('8 backlog', benchBacklog);
  for (const r of results.figures.throughput ?? []) {
    if (r.capped)
      results.not_measured.push(
        `${r.label}: not finished within the ${r.cap_s} s cap (${r.completed}/${r.jobs_queued} done); rates are over the capped window`,
      );
  }
  if (!results.help.result) results.not_measured.push('result: command not present');
  if (!results.help.wait) results.not_measured.push('wait: command not present');
  results.targets = targets();
} finally {
  results.meta.loadavg_end = loadavg();
  const tClean = nowMs();
  await cleanup();
  results.meta.cleanup_seconds = (nowMs() - tClean) / 1000;
  results.meta.bench_seconds = (nowMs() - T0) / 1000;
}

writeFileSync(join(HERE, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
const out = [
  `codex-spool bench — ${results.meta.date}, node ${process.version}, ${results.meta.cpus} CPUs, load ${results.meta.loadavg_start.map((x) => x.toFixed(2)).join(' ')} → ${results.meta.loadavg_end.map((x) => x.toFixed(2)).join(' ')}, a file created in ${tmpdir()} in ${Math.round(results.meta.file_create_us)} µs`,
  '',
  table(),
  '',
  'targets:',
  ...results.targets.map((x) => `  [${x.met === null ? ' ? ' : x.met ? 'met' : 'NOT'}] ${x.target}: ${x.value}`),
];
if (results.not_measured.length) out.push('', 'not measured / partial:', ...results.not_measured.map((x) => `  - ${x}`));
if (results.errors.length) out.push('', 'errors:', ...results.errors.map((x) => `  - ${x}`));
out.push(
  '',
  `bench took ${results.meta.bench_seconds.toFixed(0)} s (clean-up ${results.meta.cleanup_seconds.toFixed(1)} s; plus the build); raw figures: bench/results.json`,
);
process.stdout.write(`${out.join('\n')}\n`);
process.exit(results.errors.length ? 1 : 0);
