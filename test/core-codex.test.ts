// The core path against the REAL Codex CLI, pointed at a mock Responses server on 127.0.0.1.
// The worker runs as a child process; the test talks to it only through the spool and the CLI.
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { isRunName } from '../src/spool/run-files.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { codexBin, writeCodexHome } from './helpers/codex-home.js';
import { inputTexts, type MockServer } from './helpers/mock-responses.js';
import { realCodexSpool, type RealCodexSpool } from './helpers/real-codex.js';
import {
  cli,
  endSpoolTest,
  jobsIn,
  killStarted,
  makeTempRoot,
  readJson,
  startWorker,
  waitFor,
  waitForFinished,
  type TempRoot,
} from './helpers/spool-env.js';

let env: RealCodexSpool;
let mock: MockServer;
let t: TempRoot;
let repo: string;

beforeAll(async () => {
  env = await realCodexSpool();
  ({ mock, t, repo } = env);
});
afterEach(killStarted);
afterAll(() => env.close());

const done = (id: string) => join(t.root, 'spool', 'done', `${id}.json`);
const exists = (p: string) =>
  readFile(p).then(
    () => true,
    () => false,
  );
const threadIdOf = async (eventsFile: string) => JSON.parse((await readFile(eventsFile, 'utf8')).split('\n')[0]!).thread_id as string;

describe('core path with the real Codex CLI', () => {
  it('submit returns without a worker; the worker runs Codex and files result, session id, message and usage', async () => {
    mock.script([
      { kind: 'shell', cmd: "printf 'hello\\n' > hello.txt" },
      { kind: 'message', text: 'DONE: created hello.txt' },
    ]);
    mock.usage = { input_tokens: 1234, cached_tokens: 200, output_tokens: 56, reasoning_tokens: 7 };
    const submit = await cli(t, ['submit', '--repo', repo, '--task', 'Create hello.txt', '--id', 'first']);
    expect(submit.code).toBe(0);
    expect(submit.stdout).toContain('first');
    expect(Buffer.byteLength(submit.stdout)).toBeLessThanOrEqual(250);
    // No worker is running: the job waits in the inbox and nothing has reached the model.
    expect(await jobsIn(t, 'inbox')).toEqual(['first.json']);
    expect(mock.requests).toHaveLength(0);

    const worker = startWorker(t, [], codexBin());
    const { state, record } = await waitForFinished(t, 'first');
    const summary = await readJson(record.result.summary);
    expect(record.result.error).toBeNull();
    expect(state).toBe('done');
    expect(record.result.status).toBe('succeeded');
    expect(record.result.exit_code).toBe(0);
    expect(record.result.session_id).toBe(await threadIdOf(summary.files.events));
    expect(record.result.final_message).toBe('DONE: created hello.txt');
    expect(await readFile(join(repo, 'hello.txt'), 'utf8')).toBe('hello\n');
    expect(summary.final_message).toBe('DONE: created hello.txt');
    // Codex reports the thread's cumulative usage over the turn's two model calls.
    expect(summary.usage).toEqual({
      input_tokens: 2468,
      cached_input_tokens: 400,
      output_tokens: 112,
      reasoning_output_tokens: 14,
    });
    expect(summary.commands.count).toBe(1);
    expect(summary.commands.items[0].exit_code).toBe(0);
    const meta = await readJson(summary.files.meta);
    expect(meta.session_id).toBe(record.result.session_id);
    expect(meta.codex_version).toMatch(/^codex-cli \d/);
    expect(await jobsIn(t, 'active')).toEqual([]);
    await worker.stop();
  });

  it('resume jobs, by session id and by job id, continue the same session with its conversation', async () => {
    const first = await readJson(done('first'));
    const session = first.result.session_id as string;
    const worker = startWorker(t, [], codexBin());

    for (const [id, resume] of [
      ['by-session', session],
      ['by-job', 'first'],
    ] as const) {
      mock.script([{ kind: 'message', text: `continued ${id}` }]);
      const before = mock.requests.length;
      await writeFile(join(t.root, 'spool', 'inbox', `${id}.json`), JSON.stringify({ repo, task: `follow-up ${id}`, resume }));
      const { state, record } = await waitForFinished(t, id);
      expect(record.result.error).toBeNull();
      expect(state).toBe('done');
      expect(record.result.session_id).toBe(session);
      expect(record.result.final_message).toBe(`continued ${id}`);
      const request = mock.requests[before]!;
      expect(request.threadId).toBe(session);
      // The resumed turn's request carries the first turn's conversation.
      const texts = inputTexts(request.body);
      expect(texts).toContain('Create hello.txt');
      expect(texts).toContain(`follow-up ${id}`);
      const summary = await readJson(record.result.summary);
      expect(summary.resumed_from).toBe(session);
    }
    await worker.stop();
  });

  it("a model failure (HTTP 500) ends in spool/failed with Codex's error text and exit code", async () => {
    mock.script([{ kind: 'http-error', status: 500 }]);
    const worker = startWorker(t, [], codexBin());
    // max_attempts 1: no transient retry (that path is the next test).
    await writeFile(join(t.root, 'spool', 'inbox', 'boom.json'), JSON.stringify({ repo, task: 'Will fail', max_attempts: 1 }));
    const { state, record } = await waitForFinished(t, 'boom');
    expect(state).toBe('failed');
    expect(record.result.status).toBe('failed');
    expect(record.result.exit_code).not.toBe(0);
    expect(record.result.error).toMatch(/high demand/);
    const summary = await readJson(record.result.summary);
    expect(summary.errors.join('\n')).toMatch(/high demand/);
    expect(await exists(done('boom'))).toBe(false);
    await worker.stop();
  });

  it('a transient model failure is deferred and retried, continuing the same session, then succeeds', async () => {
    mock.script([
      { kind: 'http-error', status: 500 },
      { kind: 'message', text: 'recovered' },
    ]);
    const worker = startWorker(t, ['--retry-delay-ms', '200', '--rescan-ms', '200'], codexBin());
    expect((await cli(t, ['submit', '--repo', repo, '--task', 'Flaky service', '--id', 'flaky'])).code).toBe(0);
    const { state, record } = await waitForFinished(t, 'flaky');
    expect(state).toBe('done');
    expect(record.attempts).toBe(1);
    expect(record.result.final_message).toBe('recovered');
    const [failedTry, retry] = mock.requests.slice(-2);
    expect(retry!.threadId).toBe(failedTry!.threadId);
    expect(record.result.session_id).toBe(failedTry!.threadId);
    expect(inputTexts(retry!.body)).toContain('Flaky service');
    await worker.stop();
  });

  it("a resume of an unknown session fails with Codex's own error", async () => {
    const worker = startWorker(t, [], codexBin());
    const ghost = '01a21193-f66c-7b90-bbe3-5bb485d74666';
    await writeFile(join(t.root, 'spool', 'inbox', 'ghost.json'), JSON.stringify({ repo, task: 'go on', resume: ghost }));
    const { state, record } = await waitForFinished(t, 'ghost');
    expect(state).toBe('failed');
    expect(record.result.exit_code).toBe(1);
    expect(record.result.error).toMatch(/no rollout found/);
    await worker.stop();
  });

  it('two workers on one spool run each of 20 jobs exactly once', async () => {
    const repos = await Promise.all(Array.from({ length: 20 }, (_, i) => t.repo(`many-${i}`)));
    await writeCodexHome(t.env.CODEX_HOME!, mock.url, [repo, ...repos]);
    mock.script([]);
    const before = mock.requests.length;
    const workers = [startWorker(t, [], codexBin()), startWorker(t, [], codexBin())];
    await Promise.all(
      repos.map((r, i) => writeFile(join(t.root, 'spool', 'inbox', `many-${i}.json`), JSON.stringify({ repo: r, task: `job ${i}` }))),
    );
    const finished = await Promise.all(repos.map((_, i) => waitForFinished(t, `many-${i}`, 120_000)));
    expect(finished.map((f) => f.state)).toEqual(repos.map(() => 'done'));
    const records = finished.map((f) => f.record);
    // One Codex session per job, one model request per session: nothing ran twice.
    const sessions = new Set(records.map((r) => r.result.session_id));
    expect(sessions.size).toBe(20);
    const requests = mock.requests.slice(before);
    expect(requests).toHaveLength(20);
    expect(new Set(requests.map((r) => r.threadId))).toEqual(sessions);
    const runs = (await readdir(join(t.root, 'runs'))).filter(isRunName); // runs/.clock: the liveness clock probe
    const jobRuns = await Promise.all(runs.map((r) => readJson(join(t.root, 'runs', r, 'meta.json'))));
    expect(jobRuns.filter((m) => m.job_id.startsWith('many-'))).toHaveLength(20);
    expect(await jobsIn(t, 'active')).toEqual([]);
    await Promise.all(workers.map((w) => w.stop()));
  });

  it('a 200 KiB task, new and resumed, goes to Codex on stdin: the model gets all of it, argv (what ps shows) never holds it', async () => {
    const worker = startWorker(t, [], codexBin());
    const task = (tag: string) => `${tag} BEGIN ${'lorem ipsum '.repeat(17_000)}END ${tag}`; // ~200 KiB
    mock.script([
      { kind: 'message', text: 'long done' },
      { kind: 'message', text: 'long resumed' },
    ]);
    const before = mock.requests.length;
    await waitFor('the inbox', () =>
      readdir(join(t.root, 'spool', 'inbox')).then(
        () => true,
        () => false,
      ),
    );
    for (const [id, resume] of [
      ['long', undefined],
      ['long-more', 'long'],
    ] as const) {
      await writeFile(join(t.root, 'spool', 'inbox', `${id}.json`), JSON.stringify({ repo, task: task(id), resume }));
      const { state, record } = await waitForFinished(t, id);
      expect(record.result.error).toBeNull();
      expect(state).toBe('done');
      const meta = await readJson(join(record.result.summary, '..', 'meta.json'));
      expect(meta.argv.at(-1)).toBe('-');
      expect(meta.argv.join(' ')).not.toContain('lorem');
      expect(meta.argv.join(' ').length).toBeLessThan(1000);
    }
    const [first, resumed] = mock.requests.slice(before);
    expect(inputTexts(first!.body)).toContain(JSON.stringify(task('long')).slice(1, -1));
    expect(inputTexts(resumed!.body)).toContain(JSON.stringify(task('long-more')).slice(1, -1));
    expect(resumed!.threadId).toBe(first!.threadId);
    await worker.stop();
  });
});

// Results that tell the truth: the decisive error (with a hint), errors Codex prints only on stderr, files
// changed by shell commands.
describe('truthful results with the real Codex CLI', () => {
  it('a 401 is the error of the result, with a hint to log in; it is not retried', async () => {
    mock.script([{ kind: 'http-error', status: 401 }]);
    const worker = startWorker(t, [], codexBin());
    expect((await cli(t, ['submit', '--repo', repo, '--task', 'Needs a login', '--id', 'unauth'])).code).toBe(0);
    const { state, record } = await waitForFinished(t, 'unauth');
    expect(state).toBe('failed');
    expect(record.attempts ?? 0).toBe(0);
    expect(record.result.error).toMatch(/^unexpected status 401 Unauthorized: mock error 401\b.*\(hint: run `codex login`/);
    const result = await cli(t, ['result', 'unauth']);
    expect(result.stdout).toMatch(/^error: unexpected status 401 Unauthorized.*codex login/m);
    await worker.stop();
  });

  it('a file a shell command wrote (printf hi > hello.txt) is listed in files_changed; a file dirty before and untouched is not', async () => {
    await writeFile(join(repo, 'dirty-before.txt'), 'left as it was\n');
    mock.script([
      { kind: 'shell', cmd: 'printf hi > hello.txt' },
      { kind: 'message', text: 'DONE: wrote hello.txt' },
    ]);
    const worker = startWorker(t, [], codexBin());
    expect((await cli(t, ['submit', '--repo', repo, '--task', 'Write hello.txt', '--id', 'shell-write'])).code).toBe(0);
    const { state, record } = await waitForFinished(t, 'shell-write');
    expect(state).toBe('done');
    expect(await readFile(join(repo, 'hello.txt'), 'utf8')).toBe('hi');
    const summary = await readJson(record.result.summary);
    expect(summary.files_changed).toEqual({ count: 1, paths: [join(repo, 'hello.txt')] });
    expect((await cli(t, ['result', 'shell-write'])).stdout).toMatch(/^files changed \(1\): hello\.txt$/m);
    await worker.stop();
  });
});

describe('errors Codex prints only on stderr reach the result', () => {
  it('a config error (wire_api = "chat") is the result\'s error, not a bare exit code', async () => {
    const c = await makeTempRoot();
    try {
      const crepo = await c.repo('r');
      await writeCodexHome(c.env.CODEX_HOME!, mock.url, [crepo]);
      const config = join(c.env.CODEX_HOME!, 'config.toml');
      await writeFile(config, (await readFile(config, 'utf8')).replace('wire_api = "responses"', 'wire_api = "chat"'));
      // The worker's start-up check would refuse this config: skipped, to see what a run makes of it.
      const worker = startWorker(c, ['--skip-codex-check'], codexBin());
      expect((await cli(c, ['submit', '--repo', crepo, '--task', 'x', '--id', 'badconf'])).code).toBe(0);
      const { state, record } = await waitForFinished(c, 'badconf');
      expect(state).toBe('failed');
      expect(record.result.exit_code).toBe(1);
      expect(record.result.error).toMatch(/^Error loading config\.toml: `wire_api = "chat"` is no longer supported\.\nHow to fix:/);
      expect(record.result.error).not.toMatch(/WARNING/);
      await worker.stop();
    } finally {
      await endSpoolTest(c);
    }
  });
});

describe('the real Codex CLI with no network', () => {
  it('a run that only waits for the network ("Reconnecting... waiting for network") shows so in status, is stopped at the stall limit and deferred as transient', async () => {
    const n = await makeTempRoot();
    try {
      const nrepo = await n.repo('offline');
      // A port nobody listens on: connection refused. Codex's default (unbounded) reconnecting is on.
      const port = await new Promise<number>((resolve) => {
        const s = createServer().listen(0, '127.0.0.1', () => {
          const { port } = s.address() as { port: number };
          s.close(() => resolve(port));
        });
      });
      await writeCodexHome(n.env.CODEX_HOME!, `http://127.0.0.1:${port}/v1`, [nrepo]);
      const config = join(n.env.CODEX_HOME!, 'config.toml');
      await writeFile(
        config,
        (await readFile(config, 'utf8')).replace('unbounded_connection_retries = false', 'unbounded_connection_retries = true'),
      );
      const worker = startWorker(n, ['--stall-timeout', '4', '--grace-ms', '2000', '--retry-delay-ms', '600000'], codexBin());
      await waitFor('the inbox', () =>
        readdir(join(n.root, 'spool', 'inbox')).then(
          () => true,
          () => false,
        ),
      );
      await writeFile(
        join(n.root, 'spool', 'inbox', 'offline.json'),
        JSON.stringify({ repo: nrepo, task: 'needs the network', max_attempts: 3 }),
      );
      // While it waits, status says so (the activity of a running job), and --json carries the same.
      await waitFor('status: waiting for network', async () => / active .* waiting for network$/m.test((await cli(n, ['status'])).stdout));
      const running = JSON.parse((await cli(n, ['status', '--json', 'offline'])).stdout).jobs[0];
      expect(running).toMatchObject({ state: 'active', activity: 'waiting for network' });
      const deferred = await waitFor('offline deferred', async () =>
        (await jobsIn(n, 'deferred')).includes('offline.json') ? readJson(join(n.root, 'spool', 'deferred', 'offline.json')) : null,
      );
      expect(deferred.attempts).toBe(1);
      expect(Date.parse(deferred.not_before)).toBeGreaterThan(Date.now() + 60_000);
      // The worker logs the deferral just after it moved the file: wait for the line.
      await waitFor('the deferral logged', () => /deferred offline until/.test(worker.log()));
      expect(worker.log()).toMatch(
        /deferred offline until \S+: transient failure \(stopped: no progress within the stall limit while Codex was waiting for the network \(last: Reconnecting\.\.\. waiting for network/,
      );
      const runs = await readdir(join(n.root, 'runs'));
      const summary = await readJson(join(n.root, 'runs', runs[0]!, 'summary.json'));
      expect(summary.status).toBe('failed');
      expect(summary.errors.join('\n')).not.toMatch(/^Reconnecting/m); // notices are not errors
      expect(await jobsIn(n, 'active')).toEqual([]);
      const later = JSON.parse((await cli(n, ['status', '--json', 'offline'])).stdout).jobs[0];
      expect(later).toMatchObject({ state: 'deferred', not_before: deferred.not_before });
      expect(later.reason).toMatch(
        /^transient failure: stopped: no progress within the stall limit while Codex was waiting for the network/,
      );
      await worker.stop();
    } finally {
      await endSpoolTest(n);
    }
  });
});
