// Test harness: temp roots, the real worker as a child process, the CLI, and polling with a deadline.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { JOB_STATES } from '../../src/spool/layout.js';
import { output } from '../../src/util/output.js';

export const projectRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
export const cliPath = join(projectRoot, 'dist', 'cli.js');
export const fakeCodex = join(projectRoot, 'test', 'fixtures', 'fake-codex');

/**
 * Every HTTP(S) request not to 127.0.0.1 goes to a closed local port: `codex doctor` (the worker's start-up
 * check) probes GitHub for updates and, with the default provider, OpenAI, whatever the config says.
 */
export const LOCAL_ONLY_ENV = { HTTPS_PROXY: 'http://127.0.0.1:9', HTTP_PROXY: 'http://127.0.0.1:9', NO_PROXY: '127.0.0.1,localhost' };

export interface TempRoot {
  dir: string;
  /** The codex-spool root. */
  root: string;
  /** HOME and CODEX_HOME for every process the test starts: never the user's own. */
  env: Record<string, string>;
  /** Makes a directory for Codex to work in. */
  repo(name: string): Promise<string>;
  cleanup(): Promise<void>;
}

/** The spool's directories under `root`, as a worker that has run there leaves them: commands refuse a root without them. */
export async function makeSpool(root: string): Promise<void> {
  await Promise.all(JOB_STATES.map((s) => mkdir(join(root, 'spool', s), { recursive: true, mode: 0o700 })));
}

export async function makeTempRoot(extraEnv: Record<string, string> = {}): Promise<TempRoot> {
  const dir = await mkdtemp(join(tmpdir(), 'codex-spool-test-'));
  const root = join(dir, 'root');
  const home = join(dir, 'home');
  await Promise.all([mkdir(root), mkdir(home), mkdir(join(dir, 'codex-home'))]);
  await makeSpool(root);
  return {
    dir,
    root,
    env: {
      HOME: home,
      CODEX_HOME: join(dir, 'codex-home'),
      CODEX_SPOOL_ROOT: root,
      FAKE_CODEX_HOLD: join(dir, 'hold'),
      ...LOCAL_ONLY_ENV,
      ...extraEnv,
    },
    async repo(name) {
      const path = join(dir, 'repos', name);
      await mkdir(path, { recursive: true });
      await execa('git', ['init', '-q', path]); // Codex works only in git repos (or with --skip-git-repo-check)
      return path;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * Gives the root's claim locks the policy's shortest stale time (3 s, not 10): for a test that waits for a
 * killed worker's lock to go stale. Before any process uses the root: each reads it once.
 */
export function quickLockStale(t: TempRoot): Promise<void> {
  return writeFile(join(t.root, 'codex-spool.config.json'), JSON.stringify({ policy: { lock_stale_ms: 3_000 } }), { mode: 0o600 });
}

/**
 * Dates every lock in active/ (job claims, repo and session locks) a minute back, as though their worker had
 * been killed then: the next worker finds them stale at once, instead of the test waiting out the stale time.
 * Only while no live process holds a lock (a live holder finds its lock compromised).
 */
export async function ageLocks(t: TempRoot): Promise<void> {
  const active = join(t.root, 'spool', 'active');
  const then = new Date(Date.now() - 60_000);
  const locks = (await readdir(active)).filter((name) => name.endsWith('.lock'));
  await Promise.all(locks.map((name) => utimes(join(active, name), then, then)));
}

/** Lets the fake Codex's `hold=<name>` tool command end: the test has seen what it kept the job running for. */
export async function release(t: TempRoot, name: string): Promise<void> {
  await mkdir(t.env.FAKE_CODEX_HOLD!, { recursive: true });
  await writeFile(join(t.env.FAKE_CODEX_HOLD!, name), '');
}

/** A fresh temp root with one git repo, whose fake codex logs each call (for worker tests). */
export interface FakeCodexSpool {
  t: TempRoot;
  repo: string;
  /** The argv of each fake codex call so far, one string each. */
  calls(): Promise<string[]>;
}

export async function fakeCodexSpool(): Promise<FakeCodexSpool> {
  const t = await makeTempRoot();
  const log = join(t.dir, 'codex-calls.log');
  t.env.FAKE_CODEX_LOG = log;
  return {
    t,
    repo: await t.repo('r'),
    calls: async () => (await readIfExists(log))?.split('\n').filter(Boolean) ?? [],
  };
}

/** Ends a worker test: kills what it left running, removes its temp root. */
export async function endSpoolTest(t: TempRoot): Promise<void> {
  await killStarted();
  // Codex runs detached from its worker: a test that SIGKILLs a worker may leave its run behind.
  await killRunGroups(t);
  await execa('pkill', ['-KILL', '-f', t.dir], { reject: false });
  await t.cleanup();
}

const started = new Set<ResultPromise>();

export interface CliResult {
  code: number | undefined;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI to its end (in `cwd`, with `input` on its stdin, when given): in this process, where the
 * process boundary is not what a test checks (a process start costs more than most commands), except the
 * worker (always a real child process) and a command given `input` (its stdin).
 */
export function cli(t: TempRoot, args: string[], opts: { cwd?: string; input?: string } = {}): Promise<CliResult> {
  return args[0] === 'worker' || opts.input !== undefined ? cliProcess(t, args, opts) : cliInProcess(t.env, args, opts.cwd);
}

/** Runs the CLI as a child process (dist/cli.js), to its end. */
export async function cliProcess(t: TempRoot, args: string[], opts: { cwd?: string; input?: string } = {}): Promise<CliResult> {
  const stdin = opts.input === undefined ? ({ stdin: 'ignore' } as const) : { input: opts.input };
  const r = await execa('node', [cliPath, ...args], { env: t.env, reject: false, cwd: opts.cwd, ...stdin });
  return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

let inProcessTurn: Promise<unknown> = Promise.resolve();

/**
 * Runs the CLI's program (src/main.ts) in this process, as a child would run it: `env` over this
 * process's environment, in `cwd`, its stdout and stderr captured. One at a time (they share the process).
 */
export function cliInProcess(env: Record<string, string>, args: string[], cwd?: string): Promise<CliResult> {
  const run = async (): Promise<CliResult> => {
    const { main } = await import('../../src/main.js');
    const savedEnv = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    const savedCwd = process.cwd();
    const out: string[] = [];
    const err: string[] = [];
    const restore = [capture('out', out), capture('err', err)];
    Object.assign(process.env, env);
    try {
      if (cwd) process.chdir(cwd);
      const code = await main(['node', cliPath, ...args]);
      return { code, stdout: out.join('').replace(/\n$/, ''), stderr: err.join('').replace(/\n$/, '') };
    } finally {
      process.chdir(savedCwd);
      for (const [k, v] of Object.entries(savedEnv)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      for (const undo of restore) undo();
    }
  };
  const result = inProcessTurn.then(run, run);
  inProcessTurn = result.catch(() => undefined);
  return result;
}

/** Collects what a command prints on `fd` (src/util/output.ts) into `sink` until the returned function is called. */
function capture(fd: 'out' | 'err', sink: string[]): () => void {
  const write = output[fd];
  output[fd] = (text) => void sink.push(text);
  return () => {
    output[fd] = write;
  };
}

export interface WorkerProcess {
  child: ResultPromise;
  /** Everything the worker logged so far. */
  log(): string;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | undefined>;
}

/** Starts `codex-spool worker` on the temp root as a real child process. */
export function startWorker(t: TempRoot, args: string[] = [], codexBin = fakeCodex): WorkerProcess {
  const child = execa('node', [cliPath, 'worker', '--codex-bin', codexBin, ...args], {
    env: t.env,
    reject: false,
    stdin: 'ignore',
    buffer: false,
  });
  return workerProcess(child, started);
}

/** A started worker, kept in `registry` (for the clean-up) until it is stopped. */
export function workerProcess(child: ResultPromise, registry: Set<ResultPromise>): WorkerProcess {
  registry.add(child);
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  return {
    child,
    log: () => log,
    async stop(signal = 'SIGTERM') {
      child.kill(signal);
      const r = await child;
      registry.delete(child);
      return r.exitCode;
    },
  };
}

/** Waits until worker `w` has set up the spool and written its heartbeat (its start-up log comes before). */
export const workerUp = (t: TempRoot, w: { child: ResultPromise }) =>
  waitFor('the worker heartbeat', async () =>
    (await readdir(join(t.root, 'spool', 'workers')).catch(() => [])).some((n) => n.endsWith(`-${w.child.pid}.json`)),
  );

/** Kills every process a test started and left running: workers, CLIs, runProcess groups (afterEach). */
export async function killStarted(): Promise<void> {
  for (const pid of groups) killGroup(pid);
  groups.clear();
  await Promise.all(
    [...started].map(async (child) => {
      child.kill('SIGKILL');
      await child;
      started.delete(child);
    }),
  );
}

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Process groups runProcess started that have not ended yet. */
const groups = new Set<number>();

/**
 * Runs `cmd` to its end in a process group of its own, with `input` on its stdin (none: /dev/null, which
 * Codex needs); kills the group after `timeoutMs`, or at killStarted. `onSpawn` gets the child (to signal
 * it). Never rejects.
 */
export function runProcess(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; onSpawn?: (child: ChildProcess) => void },
): Promise<ProcessResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const stdin = opts.input === undefined ? 'ignore' : 'pipe';
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: [stdin, 'pipe', 'pipe'] });
    const pid = child.pid;
    if (pid) groups.add(pid);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => killGroup(pid), opts.timeoutMs ?? 120_000);
    child.on('error', (err) => (stderr += String(err)));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (pid) groups.delete(pid);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0 });
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(opts.input);
    opts.onSpawn?.(child);
  });
}

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Polls `fn` until it returns a truthy value, or fails after `timeoutMs` with `what`. */
export async function waitFor<T>(what: string, fn: () => Promise<T> | T, timeoutMs = 30_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until job `id` is running with a known session; returns its run's meta.json. */
export function runningMeta(t: TempRoot, id: string, timeoutMs = 30_000): Promise<any> {
  return waitFor(
    `${id}: session id recorded`,
    async () => {
      const active = await readIfExists(join(t.root, 'spool', 'active', `${id}.json`));
      const runId = active && JSON.parse(active).run_id;
      const m = runId && (await readIfExists(join(t.root, 'runs', runId, 'meta.json')));
      return m && JSON.parse(m).session_id ? JSON.parse(m) : null;
    },
    timeoutMs,
  );
}

/** Names of the job files (not error files, not dotfiles) in a spool state directory. */
export async function jobsIn(t: TempRoot, state: string): Promise<string[]> {
  const names = await readdir(join(t.root, 'spool', state)).catch(() => []);
  return names.filter((n) => n.endsWith('.json') && !n.endsWith('.error.json') && !n.startsWith('.')).sort();
}

/**
 * Waits until job `id` is in done/ or failed/ and its worker has let go of it (the active copy removed, the
 * lock released: the worker files first), and returns where and what it is. `retry` copes with that moment
 * itself (test: "retry waits for a worker that has filed the job").
 */
export async function waitForFinished(t: TempRoot, id: string, timeoutMs = 60_000): Promise<{ state: string; record: any }> {
  return waitFor(
    `${id} finished`,
    async () => {
      if (await readdir(join(t.root, 'spool', 'active', `${id}.json.lock`)).catch(() => null)) return null;
      for (const state of ['done', 'failed']) {
        const text = await readIfExists(join(t.root, 'spool', state, `${id}.json`));
        if (text) return { state, record: JSON.parse(text) };
      }
      return null;
    },
    timeoutMs,
  );
}

export async function readJson<T = any>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

/** Reads a file if it exists. */
export function readIfExists(path: string): Promise<string | null> {
  return readFile(path, 'utf8').catch(() => null);
}

export interface CliProcess {
  child: ResultPromise;
  /** What it printed on stdout so far. */
  stdout(): string;
  /** What it printed on stderr so far. */
  stderr(): string;
  /** Resolves when it exits (killStarted ends it if a test leaves it running). */
  done: Promise<{ code: number | undefined; stdout: string; stderr: string }>;
}

/** Starts the CLI without waiting for it to end (`wait`, `logs -f`): its output can be read as it comes. */
export function startCli(t: TempRoot, args: string[]): CliProcess {
  const child = execa('node', [cliPath, ...args], { env: t.env, reject: false, stdin: 'ignore', buffer: false });
  started.add(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const done = child.then((r) => {
    started.delete(child);
    return { code: r.exitCode, stdout: out, stderr: err };
  });
  return { child, stdout: () => out, stderr: () => err, done };
}

/**
 * Kills the Codex process groups of the temp root's runs that are still alive. Codex runs detached, so a
 * worker killed by killStarted (a test that failed before stopping it) leaves its runs behind; call this
 * after killStarted. Only a process whose command line names this temp root is signalled (pids are reused).
 */
export async function killRunGroups(t: TempRoot): Promise<void> {
  for (const run of await readdir(join(t.root, 'runs')).catch(() => [] as string[])) {
    let pid: unknown;
    try {
      pid = JSON.parse((await readIfExists(join(t.root, 'runs', run, 'meta.json'))) ?? 'null')?.pid;
    } catch {
      continue;
    }
    if (typeof pid !== 'number') continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(t.root)) killGroup(pid);
  }
}
