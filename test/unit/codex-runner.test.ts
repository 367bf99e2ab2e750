// runCodex on its own, with the codex-unruly stand-in: what ends a run, what counts as progress, how it
// fails to start. Real processes, a temp dir; no worker.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCodex, type CodexRunOptions } from '../../src/codex/runner.js';
import { projectRoot } from '../helpers/spool-env.js';

const unruly = join(projectRoot, 'test', 'fixtures', 'codex-unruly');
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'codex-runner-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function run(prompt: string, over: Partial<CodexRunOptions> = {}) {
  return runCodex({
    codexBin: unruly,
    argv: ['exec', '--json', '-o', join(dir, 'last.txt'), '-'],
    prompt,
    promptFile: join(dir, 'prompt.txt'),
    runDir: dir,
    eventsFile: join(dir, 'events.jsonl'),
    logFile: join(dir, 'codex.log'),
    graceMs: 2_000,
    stop: new AbortController().signal,
    cancel: new AbortController().signal,
    onSpawn: () => {},
    onSessionId: () => {},
    ...over,
  });
}

describe('runCodex', () => {
  it('a run that only reconnects is stalled: reconnect notices do not refresh the stall timer', async () => {
    const o = await run('offline', { stallMs: 1_000 });
    expect(o.stalled).toBe(true);
    expect(o.waitingForNetwork).toBe('Reconnecting... waiting for network (Connection failed: error sending request)');
    expect(o.digest.errors).toEqual([]);
    expect(o.digest.progress).toBe(2); // thread.started, turn.started
  });

  it('a time limit beyond what a Node timer holds is clamped, not fired at once', async () => {
    const o = await run('wait=0.5', { timeoutMs: 2 ** 40, stallMs: 2 ** 35 });
    expect(o.timedOut).toBe(false);
    expect(o.exitCode).toBe(0);
    expect(o.digest.lastAgentMessage).toBe('unruly done');
  });

  it('the last line of a long prompt is on stdin, not argv; a Codex that leaves most of it unread still ends well', async () => {
    const o = await run(`plain\n${'z'.repeat(1024 * 1024)}`);
    expect(o.exitCode).toBe(0);
    expect(o.spawnError).toBeNull();
    expect(await readFile(join(dir, 'events.jsonl'), 'utf8')).toContain('"turn.completed"');
  });

  it('a Codex that cannot be started: spawnError, whether spawn fails late (ENOENT) or at once (E2BIG)', async () => {
    const missing = await run('x', { codexBin: join(dir, 'no-such-codex') });
    expect(missing.spawnError).toMatch(/ENOENT/);
    expect(missing.exitCode).toBeNull();
    const huge = await run('x', { argv: ['exec', 'y'.repeat(200 * 1024), '-'] });
    expect(huge.spawnError).toMatch(/E2BIG/);
  });
});
