import { describe, expect, it } from 'vitest';
import { emptyDigest, type EventDigest } from '../../src/codex/events.js';
import type { CodexRunOutcome } from '../../src/codex/runner.js';
import { RunSummary, type RunFiles, type RunMeta, MAX_FINAL_MESSAGE_BYTES } from '../../src/spool/schema.js';
import { classifyFailure } from '../../src/worker/retry-policy.js';
import fc from 'fast-check';
import { buildSummary, decisiveError, runStatusOf } from '../../src/codex/summary.js';
import { addError, foldEventLine, foldLogLine } from '../../src/codex/events.js';

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
    fenced: false,
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

  it('errors in the order they happened: the digest errors, then the timeout, then the spawn error', () => {
    const s = buildSummary({
      meta: meta(),
      outcome: outcome(
        { exitCode: null, signal: 'SIGKILL', timedOut: true, spawnError: 'spawn codex ENOENT' },
        { errors: ['first', 'second'] },
      ),
      files,
      lastMessage: null,
      endedAt,
    });
    expect(s.errors).toHaveLength(4);
    expect(s.errors.slice(0, 2)).toEqual(['first', 'second']);
    expect(s.errors[2]).toMatch(/time limit/);
    expect(s.errors[3]).toBe('spawn codex ENOENT');
    expect(s.status).toBe('timed_out');
    expect(s.signal).toBe('SIGKILL');
    expect(s.exit_code).toBeNull();
  });

  it('no timeout message when the run was not timed out', () => {
    const s = buildSummary({
      meta: meta(),
      outcome: outcome({ exitCode: 1 }, { errors: ['boom'], turnFailed: true }),
      files,
      lastMessage: null,
      endedAt,
    });
    expect(s.errors).toEqual(['boom']);
    expect(s.status).toBe('failed');
  });

  it('session id: the digest one wins, else the one in meta', () => {
    const fromMeta = buildSummary({ meta: meta({ session_id: RESUMED }), outcome: outcome(), files, lastMessage: null, endedAt });
    expect(fromMeta.session_id).toBe(RESUMED);
    const fromDigest = buildSummary({
      meta: meta({ session_id: RESUMED }),
      outcome: outcome({}, { sessionId: SESSION }),
      files,
      lastMessage: null,
      endedAt,
    });
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
    expect(s.errors).toEqual([
      'turn interrupted',
      `stopped: no progress within the stall limit while Codex was waiting for the network (last: ${notice})`,
    ]);
    expect(decisiveError(s.errors)).toBe(s.errors[1]);
    expect(classifyFailure(s.errors, endedAt).kind).toBe('transient');
    // An ordinary stall stays a timeout, which is not retried.
    const plain = buildSummary({ meta: meta(), outcome: outcome({ timedOut: true, stalled: true }), files, lastMessage: null, endedAt });
    expect(plain.status).toBe('timed_out');
    expect(plain.errors).toEqual(['stopped: no progress from Codex within the stall limit']);
  });

  it('a huge final message is cut to 64 KiB with a marker naming last-message.txt; a short one is kept whole', () => {
    const huge = 'é'.repeat(100_000); // 2 bytes each: the cut must not split one
    for (const [lastMessage, digestMessage] of [
      [huge, null],
      [null, huge],
    ] as const) {
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

  it('files_changed: the paths git measured when given (counted in full, 500 listed), else the apply_patch ones', () => {
    const patched = outcome({}, { filesChanged: ['/repo/patched.txt'] });
    expect(buildSummary({ meta: meta(), outcome: patched, files, lastMessage: null, endedAt }).files_changed).toEqual({
      count: 1,
      paths: ['/repo/patched.txt'],
    });
    const measured = Array.from({ length: 600 }, (_, i) => `/repo/f${i}`);
    const s = buildSummary({ meta: meta(), outcome: patched, files, lastMessage: null, filesChanged: measured, endedAt });
    expect(s.files_changed.count).toBe(600);
    expect(s.files_changed.paths).toEqual(measured.slice(0, 500));
    expect(
      buildSummary({ meta: meta(), outcome: patched, files, lastMessage: null, filesChanged: null, endedAt }).files_changed.count,
    ).toBe(1);
  });

  it('usage null and empty lists when nothing happened', () => {
    const s = buildSummary({ meta: meta(), outcome: outcome(), files, lastMessage: null, endedAt });
    expect(s.usage).toBeNull();
    expect(s.commands).toEqual({ count: 0, failed: 0, items: [] });
    expect(s.files_changed).toEqual({ count: 0, paths: [] });
  });
});

describe('the decisive error', () => {
  const endedAt = new Date('2026-01-01T00:01:02.345Z');
  const build = (o: Partial<CodexRunOutcome>, d: Partial<EventDigest> = {}) =>
    buildSummary({ meta: meta(), outcome: outcome(o, d), files, lastMessage: null, endedAt });

  it('a 401 after reconnect notices: the final 401, with a login hint (the notices are not errors)', () => {
    const d = emptyDigest();
    const url = 'url: http://127.0.0.1:1/v1/responses';
    for (const message of [
      `Reconnecting... 1/2 (unexpected status 401 Unauthorized: nope, ${url})`,
      `Reconnecting... 2/2 (unexpected status 401 Unauthorized: nope, ${url})`,
      `unexpected status 401 Unauthorized: nope, ${url}`,
    ])
      foldEventLine(d, JSON.stringify({ type: 'error', message }));
    foldEventLine(d, JSON.stringify({ type: 'turn.failed', error: { message: `unexpected status 401 Unauthorized: nope, ${url}` } }));
    const s = build({ exitCode: 1 }, d);
    expect(s.errors).toEqual([`unexpected status 401 Unauthorized: nope, ${url}`]);
    expect(decisiveError(s.errors)).toMatch(
      /^unexpected status 401 Unauthorized: nope, .* \(hint: run `codex login`, or check the API key variable/,
    );
  });

  it('a failure Codex printed only on stderr (no prefix, several lines) is the error; its routine notices are not', () => {
    const d = emptyDigest();
    for (const line of [
      'WARNING: proceeding, even though we could not create PATH aliases',
      'Reading additional input from stdin...',
      'Error loading config.toml: `wire_api = "chat"` is no longer supported.',
      'How to fix: set `wire_api = "responses"` in your provider config.',
      '',
    ])
      foldLogLine(d, line);
    expect(decisiveError(build({ exitCode: 1 }, d).errors)).toBe(
      'Error loading config.toml: `wire_api = "chat"` is no longer supported.\nHow to fix: set `wire_api = "responses"` in your provider config.',
    );
    expect(decisiveError(build({ exitCode: 1 }, foldLogLine(emptyDigest(), 'No prompt provided via stdin.')).errors)).toBe(
      'No prompt provided via stdin.',
    );
    // Stderr chatter of a run that succeeded, or that reported its error on the JSON stream, is not an error.
    expect(build({ exitCode: 0 }, d).errors).toEqual([]);
    expect(build({ exitCode: 1 }, { ...d, errors: ['boom'] }).errors).toEqual(['boom']);
  });

  it('a hint only where a person can fix it: 401/403 and a missing key variable, not any number 401', () => {
    expect(decisiveError(['unexpected status 403 Forbidden: no'])).toMatch(/\(hint: run `codex login`/);
    expect(decisiveError(['Incorrect API key provided'])).toMatch(/\(hint: run `codex login`/);
    expect(decisiveError(['Missing environment variable: `MY_KEY`.'])).toBe(
      "Missing environment variable: `MY_KEY`. (hint: set that variable in the worker's environment)",
    );
    expect(decisiveError(['error on line 401 of the patch'])).toBe('error on line 401 of the patch');
    expect(decisiveError([])).toBeNull();
  });

  it('a failure reported nowhere names the exit code or the signal', () => {
    expect(build({ exitCode: 3 }).errors).toEqual(['Codex exited with code 3 without reporting an error']);
    expect(build({ exitCode: null, signal: 'SIGKILL' }).errors).toEqual(['Codex was killed by SIGKILL']);
  });

  it('property: whatever Codex reported, in any order, the decisive error is the latest fatal one, or why we stopped the run', () => {
    const text = fc.stringMatching(/^[a-z0-9]+( [a-z0-9]+)?$/);
    const event = fc.oneof(
      text.map((m) => ({ kind: 'error' as const, m })),
      text.map((m) => ({ kind: 'failed' as const, m })),
      text.map((m) => ({ kind: 'reconnect' as const, m: `Reconnecting... ${m}` })),
      text.map((m) => ({ kind: 'stderr' as const, m: `Error: ${m}` })),
    );
    fc.assert(
      fc.property(fc.array(event, { maxLength: 60 }), fc.boolean(), (events, timedOut) => {
        const d = emptyDigest();
        for (const e of events) {
          if (e.kind === 'stderr') foldLogLine(d, e.m);
          else if (e.kind === 'failed') foldEventLine(d, JSON.stringify({ type: 'turn.failed', error: { message: e.m } }));
          else foldEventLine(d, JSON.stringify({ type: 'error', message: e.m }));
        }
        const fatal = events.filter((e) => e.kind !== 'reconnect').map((e) => (e.kind === 'stderr' ? e.m.slice('Error: '.length) : e.m));
        const error = decisiveError(build({ exitCode: 1, timedOut }, d).errors);
        if (timedOut) expect(error).toBe('stopped: the time limit was reached');
        else expect(error).toBe(fatal.at(-1) ?? 'Codex exited with code 1 without reporting an error');
      }),
    );
  });

  it('the latest error is kept however many came before it', () => {
    const d = emptyDigest();
    for (let i = 0; i < 100; i++) addError(d, `error ${i}`);
    expect(decisiveError(d.errors)).toBe('error 99');
  });
});
