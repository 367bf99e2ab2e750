// Proves the mock Responses server drives the real Codex CLI (exec, resume, apply_patch, HTTP errors, hangs).
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codexBin, writeCodexHome } from './helpers/codex-home.js';
import { startMockResponses, type MockServer } from './helpers/mock-responses.js';
import { killStarted, runProcess, waitFor } from './helpers/spool-env.js';

let base: string;
let repo: string;
let home: string;
let mock: MockServer;

/** Environment for Codex: temp HOME/CODEX_HOME, no inherited CODEX_* / OPENAI_* variables. */
function codexEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('CODEX_') && !k.startsWith('OPENAI_')) env[k] = v;
  }
  return { ...env, HOME: home, CODEX_HOME: join(home, '.codex') };
}

/** Runs the real Codex CLI (stdin /dev/null) to its end, its JSONL events parsed; killed after timeoutMs. */
async function runCodex(args: string[], timeoutMs = 20_000, onSpawn?: (c: ChildProcess) => void) {
  const r = await runProcess(codexBin(), args, { cwd: repo, env: codexEnv(), timeoutMs, onSpawn });
  const events = r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
  return { ...r, events };
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'spool-mock-'));
  repo = join(base, 'repo');
  home = join(base, 'home');
  await mkdir(repo, { recursive: true });
  execFileSync('git', ['init', '-q'], { cwd: repo });
  mock = await startMockResponses();
  await writeCodexHome(join(home, '.codex'), mock.url, [repo]);
});

afterAll(async () => {
  await killStarted();
  await mock?.close();
  if (base) await rm(base, { recursive: true, force: true });
});

describe('mock Responses server with the real Codex CLI', () => {
  let threadId = '';

  it('runs a scripted shell turn, then a final message, and reports the mocked usage', async () => {
    mock.usage = { input_tokens: 1234, cached_tokens: 200, output_tokens: 56, reasoning_tokens: 7 };
    mock.script([
      { kind: 'shell', cmd: "printf 'hello\\n' > hello.txt" },
      { kind: 'message', text: 'DONE: created hello.txt' },
    ]);
    const before = mock.requests.length;
    const last = join(base, 'last.txt');
    const r = await runCodex(['exec', '--json', '--cd', repo, '-o', last, '--', 'create hello.txt']);

    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(repo, 'hello.txt'), 'utf8')).toBe('hello\n');
    expect(await readFile(last, 'utf8')).toBe('DONE: created hello.txt');

    const started = r.events.find((e) => e.type === 'thread.started');
    expect(started?.thread_id).toMatch(/^[0-9a-f-]{36}$/);
    threadId = started.thread_id;
    const cmd = r.events.find((e) => e.type === 'item.completed' && e.item.type === 'command_execution');
    expect(cmd.item).toMatchObject({ exit_code: 0, status: 'completed' });
    const msg = r.events.find((e) => e.type === 'item.completed' && e.item.type === 'agent_message');
    expect(msg.item.text).toBe('DONE: created hello.txt');
    expect(r.events.some((e) => e.type === 'item.completed' && e.item.type === 'error')).toBe(false); // catalog works

    // Two model requests in this turn: usage is summed over them.
    const done = r.events.at(-1);
    expect(done.type).toBe('turn.completed');
    expect(done.usage).toMatchObject({
      input_tokens: 2 * 1234,
      cached_input_tokens: 2 * 200,
      output_tokens: 2 * 56,
      reasoning_output_tokens: 2 * 7,
    });

    const reqs = mock.requests.slice(before);
    expect(reqs).toHaveLength(2);
    expect(reqs.every((q) => q.threadId === threadId)).toBe(true);
    expect(reqs[0]!.body.model).toBe('mock-model');
    expect(reqs[0]!.body.tools.map((t: { name?: string }) => t.name)).toEqual(expect.arrayContaining(['exec_command', 'apply_patch']));
    const output = reqs[1]!.body.input.at(-1);
    expect(output).toMatchObject({ type: 'function_call_output', call_id: 'call_1' });
  });

  it('resumes the same thread with exec-level options before `resume` and a prompt after `--`', async () => {
    expect(threadId).not.toBe('');
    mock.script([{ kind: 'message', text: 'resumed' }]);
    const before = mock.requests.length;
    const r = await runCodex(['exec', '--json', '--cd', repo, '-s', 'workspace-write', 'resume', threadId, '--', '-x do it']);

    expect(r.code, r.stderr).toBe(0);
    expect(r.events[0]).toEqual({ type: 'thread.started', thread_id: threadId });
    const req = mock.requests[before]!;
    expect(req.threadId).toBe(threadId);
    expect(JSON.stringify(req.body.input)).toContain('create hello.txt'); // earlier conversation kept
    expect(req.body.input.at(-1).content[0].text).toBe('-x do it');
    expect(JSON.parse(String(req.headers['x-codex-turn-metadata'])).sandbox_mode).toBe('workspace-write');
  });

  it('applies an apply_patch custom tool call and reports a file_change item', async () => {
    mock.script([
      { kind: 'apply-patch', patch: '*** Begin Patch\n*** Add File: notes.txt\n+first line\n*** End Patch\n' },
      { kind: 'message', text: 'patched' },
    ]);
    const r = await runCodex(['exec', '--json', '--', 'add notes.txt']);

    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(repo, 'notes.txt'), 'utf8')).toBe('first line\n');
    const fc = r.events.find((e) => e.type === 'item.completed' && e.item.type === 'file_change');
    expect(fc.item).toMatchObject({ status: 'completed', changes: [{ path: join(repo, 'notes.txt'), kind: 'add' }] });
  });

  it('fails the turn with exit 1 when the mock answers HTTP 500', async () => {
    mock.script([{ kind: 'http-error', status: 500 }]);
    const r = await runCodex(['exec', '--json', '--', 'fail please']);

    expect(r.code).toBe(1);
    expect(r.events.at(-1).type).toBe('turn.failed');
    expect(r.events.some((e) => e.type === 'error')).toBe(true);
  });

  it('holds a request open on `hang` until Codex is interrupted, and close() drops it', async () => {
    const hung = await startMockResponses();
    try {
      await writeCodexHome(join(home, '.codex'), hung.url, [repo]);
      hung.script([{ kind: 'hang' }]);
      let child: ChildProcess | undefined;
      const run = runCodex(['exec', '--json', '--', 'hang please'], 20_000, (c) => (child = c));
      await waitFor('the request held open', () => hung.requests.length === 1, 10_000);
      child!.kill('SIGINT');
      const r = await run;
      expect(r.code).toBe(1);
      expect(r.events.map((e) => e.type)).toEqual(['thread.started', 'turn.started']);
    } finally {
      await hung.close();
      await hung.close(); // idempotent
      await writeCodexHome(join(home, '.codex'), mock.url, [repo]);
    }
  });

  it('answers DONE when the script is empty', async () => {
    expect(existsSync(codexBin())).toBe(true);
    const r = await runCodex(['exec', '--json', '--', 'anything']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.events.find((e) => e.type === 'item.completed')?.item.text).toBe('DONE');
  });

  it('streams SSE with ids unique per response and records each request', async () => {
    const m = await startMockResponses();
    try {
      m.script([
        { kind: 'shell', cmd: 'true' },
        { kind: 'shell', cmd: 'true' },
      ]);
      const items = [];
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${m.url}/responses`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'thread-id': 't-1' },
          body: JSON.stringify({ model: 'mock-model', stream: true, input: [] }),
        });
        expect(res.headers.get('content-type')).toBe('text/event-stream');
        const events = (await res.text())
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => JSON.parse(l.slice(6)));
        expect(events.at(-1).type).toBe('response.completed');
        items.push({ resp: events.at(-1).response.id, ...events.at(-1).response.output[0] });
      }
      expect(items.map((x) => [x.resp, x.id, x.call_id])).toEqual([
        ['resp_1', 'fc_1', 'call_1'],
        ['resp_2', 'fc_2', 'call_2'],
      ]);
      expect(m.requests.map((q) => q.threadId)).toEqual(['t-1', 't-1']);
      expect((await fetch(`${m.url}/models`)).status).toBe(404);
    } finally {
      await m.close();
    }
  });
});
