// Results that tell the truth, with the REAL Codex CLI against the mock Responses server on 127.0.0.1:
// the decisive error (with a hint), errors Codex prints only on stderr, files changed by shell commands.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { codexBin, writeCodexHome } from './helpers/codex-home.js';
import { startMockResponses, type MockServer } from './helpers/mock-responses.js';
import { cli, endSpoolTest, killStarted, makeTempRoot, readJson, startWorker, waitForFinished, type TempRoot } from './helpers/spool-env.js';

let mock: MockServer;
let t: TempRoot;
let repo: string;

beforeAll(async () => {
  mock = await startMockResponses();
  t = await makeTempRoot();
  repo = await t.repo('main');
  await writeCodexHome(t.env.CODEX_HOME!, mock.url, [repo]);
});
afterEach(killStarted);
afterAll(async () => {
  await mock.close();
  await endSpoolTest(t);
});

const submit = (id: string, task: string) => cli(t, ['submit', '--repo', repo, '--task', task, '--id', id]);

describe('truthful results with the real Codex CLI', () => {
  it('a 401 is the error of the result, with a hint to log in; it is not retried', async () => {
    mock.script([{ kind: 'http-error', status: 401 }]);
    const worker = startWorker(t, [], codexBin());
    expect((await submit('unauth', 'Needs a login')).code).toBe(0);
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
    expect((await submit('shell-write', 'Write hello.txt')).code).toBe(0);
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
      const worker = startWorker(c, [], codexBin());
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
