import { describe, expect, it } from 'vitest';
import { emptyDigest, type EventDigest } from '../../src/codex-events.js';
import type { CodexRunOutcome } from '../../src/codex-runner.js';
import { RunSummary, type RunFiles, type RunMeta } from '../../src/job-schema.js';
import { classifyFailure } from '../../src/failure-kind.js';
import { MAX_FINAL_MESSAGE_BYTES, buildSummary, runStatusOf } from '../../src/run-summary.js';

const SESSION = '01a2122a-e8ea-7501-90e5-337c8e7d20b8';
const RESUMED = '01a2122a-f06c-77d0-9cc3-29b53f2de4d6';

const files: RunFiles = {
  dir: '/runs/r1',
  meta: '/runs/r1/meta.json',
  events: '/runs/r1/events.jsonl',
  log: '/runs/r1/codex.log',
  last_message: '/runs/r1/last-message.txt',
  summary: '/runs/r1/summary.json',
};

function meta(over: Partial<RunMeta> = {}): RunMeta {
  return {
    run_id: 'r1',
    job_id: 'job-a',
    repo: '/repo',
    task: 'do it',
    resumed_from: null,
    argv: ['exec'],
    codex_bin: 'codex',
    codex_version: null,
    pid: 123,
    started_at: '2026-01-01T00:00:00.000Z',
    status: 'running',
    session_id: null,
    ...over,
  };
}

function outcome(over: Partial<CodexRunOutcome> = {}, digest: Partial<EventDigest> = {}): CodexRunOutcome {
  return {
    exitCode: 0,
    signal: null,
    timedOut: false,
    stalled: false,
    waitingForNetwork: null,
    stopped: false,
    cancelled: false,
    spawnError: null,
    ...over,
    digest: { ...emptyDigest(), ...digest },
  };
}

describe('runStatusOf', () => {
  it('exit 0 without a failed turn → succeeded', () => {
    expect(runStatusOf(outcome())).toBe('succeeded');
  });
  it('exit 0 but turnFailed → failed', () => {
    expect(runStatusOf(outcome({}, { turnFailed: true }))).toBe('failed');
  });
  it('non-zero exit, or no exit code (signal) → failed', () => {
    expect(runStatusOf(outcome({ exitCode: 1 }))).toBe('failed');
    expect(runStatusOf(outcome({ exitCode: null }))).toBe('failed');
  });
  it('timedOut → timed_out, whatever the exit code', () => {
    expect(runStatusOf(outcome({ timedOut: true }))).toBe('timed_out');
    expect(runStatusOf(outcome({ timedOut: true, exitCode: 130 }, { turnFailed: true }))).toBe('timed_out');
  });
});

describe('buildSummary', () => {
  const endedAt = new Date('2026-01-01T00:01:02.345Z');

  it('fills every field from meta, outcome and digest, and matches the RunSummary schema', () => {
    const s = buildSummary({
      meta: meta({ resumed_from: RESUMED }),
      outcome: outcome(
        { exitCode: 0 },
        {
          sessionId: SESSION,
          lastAgentMessage: 'from events',
          usage: { input_tokens: 1, cached_input_tokens: 2, output_tokens: 3, reasoning_output_tokens: 4 },
          commands: [
            { command: 'a', exit_code: 0 },
            { command: 'b', exit_code: 2 },
            { command: 'c', exit_code: null },
          ],
          commandCount: 3,
          commandsFailed: 2,
          filesChanged: ['/repo/x', '/repo/y'],
        },
      ),
      files,
      lastMessage: null,
      endedAt,
    });
    expect(RunSummary.safeParse(s).success).toBe(true);
    expect(s).toMatchObject({
      run_id: 'r1',
      job_id: 'job-a',
      session_id: SESSION,
      resumed_from: RESUMED,
      repo: '/repo',
      task: 'do it',
      status: 'succeeded',
      exit_code: 0,
      signal: null,
      started_at: '2026-01-01T00:00:00.000Z',
      ended_at: '2026-01-01T00:01:02.345Z',
      elapsed_seconds: 62.35,
      final_message: 'from events',
      usage: { input_tokens: 1, cached_input_tokens: 2, output_tokens: 3, reasoning_output_tokens: 4 },
      files_changed: { count: 2, paths: ['/repo/x', '/repo/y'] },
      errors: [],
      files,
    });
    // a null exit code (no exit status) counts as failed, like a non-zero one
    expect(s.commands).toEqual({
      count: 3,
      failed: 2,
      items: [
        { command: 'a', exit_code: 0 },
        { command: 'b', exit_code: 2 },
        { command: 'c', exit_code: null },
      ],
    });
  });

  it('elapsed_seconds is rounded to 2 decimals', () => {
    const s = buildSummary({ meta: meta(), outcome: outcome(), files, lastMessage: null, endedAt: new Date('2026-01-01T00:00:01.004Z') });
    expect(s.elapsed_seconds).toBe(1);
    const t = buildSummary({ meta: meta(), outcome: outcome(), files, lastMessage: null, endedAt: new Date('2026-01-01T00:00:00.126Z') });
    expect(t.elapsed_seconds).toBe(0.13);
  });

  it('final_message prefers the -o last message over the digest', () => {
    const s = buildSummary({ meta: meta(), outcome: outcome({}, { lastAgentMessage: 'digest' }), files, lastMessage: 'file', endedAt });
    expect(s.final_message).toBe('file');
    const n = buildSummary({ meta: meta(), outcome: outcome(), files, lastMessage: null, endedAt });
    expect(n.final_message).toBeNull();
  });

  it('errors: spawn error, then timeout, then the digest errors in order', () => {
    const s = buildSummary({
      meta: meta(),
      outcome: outcome({ exitCode: null, signal: 'SIGKILL', timedOut: true, spawnError: 'spawn codex ENOENT' }, { errors: ['first', 'second'] }),
      files,
      lastMessage: null,
      endedAt,
    });
    expect(s.errors).toHaveLength(4);
    expect(s.errors[0]).toBe('spawn codex ENOENT');
    expect(s.errors[1]).toMatch(/time limit/);
    expect(s.errors.slice(2)).toEqual(['first', 'second']);
    expect(s.status).toBe('timed_out');
    expect(s.signal).toBe('SIGKILL');
    expect(s.exit_code).toBeNull();
  });

  it('no timeout message when the run was not timed out', () => {
    const s = buildSummary({ meta: meta(), outcome: outcome({ exitCode: 1 }, { errors: ['boom'], turnFailed: true }), files, lastMessage: null, endedAt });
    expect(s.errors).toEqual(['boom']);
    expect(s.status).toBe('failed');
  });

  it('session id: the digest one wins, else the one in meta', () => {
    const fromMeta = buildSummary({ meta: meta({ session_id: RESUMED }), outcome: outcome(), files, lastMessage: null, endedAt });
    expect(fromMeta.session_id).toBe(RESUMED);
    const fromDigest = buildSummary({ meta: meta({ session_id: RESUMED }), outcome: outcome({}, { sessionId: SESSION }), files, lastMessage: null, endedAt });
    expect(fromDigest.session_id).toBe(SESSION);
  });

  it('a stall while Codex only waited for the network: failed (not timed_out), an error saying so, classified transient', () => {
    const notice = 'Reconnecting... waiting for network (Connection failed: error sending request)';
    const s = buildSummary({
      meta: meta(),
      outcome: outcome({ exitCode: 1, timedOut: true, stalled: true, waitingForNetwork: notice }, { errors: ['turn interrupted'] }),
      files,
      lastMessage: null,
      endedAt,
    });
    expect(s.status).toBe('failed');
    expect(s.errors[0]).toBe(`stopped: no progress within the stall limit while Codex was waiting for the network (last: ${notice})`);
    expect(classifyFailure(s.errors, endedAt).kind).toBe('transient');
    // An ordinary stall stays a timeout, which is not retried.
    const plain = buildSummary({ meta: meta(), outcome: outcome({ timedOut: true, stalled: true }), files, lastMessage: null, endedAt });
    expect(plain.status).toBe('timed_out');
    expect(plain.errors).toEqual(['stopped: no progress from Codex within the stall limit']);
  });

  it('a huge final message is cut to 64 KiB with a marker naming last-message.txt; a short one is kept whole', () => {
    const huge = 'é'.repeat(100_000); // 2 bytes each: the cut must not split one
    for (const [lastMessage, digestMessage] of [[huge, null], [null, huge]] as const) {
      const s = buildSummary({ meta: meta(), outcome: outcome({}, { lastAgentMessage: digestMessage }), files, lastMessage, endedAt });
      const [head, marker] = s.final_message!.split('\n… ');
      expect(head).toBe('é'.repeat(MAX_FINAL_MESSAGE_BYTES / 2));
      expect(marker).toBe(`[cut after ${MAX_FINAL_MESSAGE_BYTES} bytes; the whole text is in ${files.last_message}]`);
    }
    const odd = buildSummary({ meta: meta(), outcome: outcome(), files, lastMessage: `x${huge}`, endedAt });
    expect(odd.final_message!.split('\n… ')[0]).toBe(`x${'é'.repeat(MAX_FINAL_MESSAGE_BYTES / 2 - 1)}`);
    const small = buildSummary({ meta: meta(), outcome: outcome(), files, lastMessage: 'é'.repeat(1000), endedAt });
    expect(small.final_message).toBe('é'.repeat(1000));
  });

  it('usage null and empty lists when nothing happened', () => {
    const s = buildSummary({ meta: meta(), outcome: outcome(), files, lastMessage: null, endedAt });
    expect(s.usage).toBeNull();
    expect(s.commands).toEqual({ count: 0, failed: 0, items: [] });
    expect(s.files_changed).toEqual({ count: 0, paths: [] });
  });
});
