import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  addError,
  emptyDigest,
  errorFromLogLine,
  foldEventLine,
  foldLogLine,
  MAX_ERROR_BYTES,
  MAX_ERRORS,
  sessionIdFromBannerLine,
  type EventDigest,
} from '../../src/codex/events.js';

const fixtureDir = new URL('../fixtures/codex/', import.meta.url);
const lines = (file: string): string[] => readFileSync(new URL(file, fixtureDir), 'utf8').split('\n');
const fold = (file: string): EventDigest => lines(file).reduce(foldEventLine, emptyDigest());

describe('foldEventLine on real Codex 0.169 output', () => {
  it('exec-json: session, command with exit code, last message, usage', () => {
    const d = fold('exec-json.jsonl');
    expect(d.sessionId).toBe('01a2122a-e8ea-7501-90e5-337c8e7d20b8');
    // item.started is not folded: the command appears once, with the exit code of item.completed
    expect(d.commands).toEqual([{ command: `/bin/bash -lc "printf 'hello\\\\n' > hello.txt"`, exit_code: 0 }]);
    expect(d.lastAgentMessage).toBe('DONE: created hello.txt');
    // cache_write_input_tokens is not part of Usage and must not leak into it
    expect(d.usage).toEqual({ input_tokens: 2002, cached_input_tokens: 200, output_tokens: 102, reasoning_output_tokens: 14 });
    expect(d.errors).toEqual([]);
    expect(d.turnFailed).toBe(false);
    expect(d.filesChanged).toEqual([]);
  });

  it('resume-json: same thread id as the first run, cumulative usage', () => {
    const first = fold('exec-json.jsonl');
    const d = fold('resume-json.jsonl');
    expect(d.sessionId).toBe(first.sessionId);
    expect(d.usage).toEqual({ input_tokens: 4004, cached_input_tokens: 400, output_tokens: 204, reasoning_output_tokens: 28 });
    expect(d.commands).toEqual([{ command: `/bin/bash -lc "printf 'world\\\\n' >> hello.txt"`, exit_code: 0 }]);
    expect(d.lastAgentMessage).toBe('DONE: appended world');
    expect(d.turnFailed).toBe(false);
  });

  it('usage of a later turn.completed replaces the earlier one (cumulative, not summed)', () => {
    const d = [...lines('exec-json.jsonl'), ...lines('resume-json.jsonl')].reduce(foldEventLine, emptyDigest());
    expect(d.usage?.input_tokens).toBe(4004);
    expect(d.commands).toHaveLength(2);
  });

  it('failed-500: the error text once, turnFailed, no usage, no message', () => {
    const d = fold('failed-500.jsonl');
    expect(d.sessionId).toBe('01a2122a-f06c-77d0-9cc3-29b53f2de4d6');
    expect(d.errors).toEqual(['We’re currently experiencing high demand, which may cause temporary errors.']);
    expect(d.turnFailed).toBe(true);
    expect(d.usage).toBeNull();
    expect(d.lastAgentMessage).toBeNull();
  });

  it('file-change: paths from item.completed, each once (item.started is not folded)', () => {
    const d = fold('file-change.jsonl');
    expect(d.filesChanged).toEqual(['/tmp/REPO/hello.txt', '/tmp/REPO/notes.txt']);
    expect(d.lastAgentMessage).toBe('DONE: patched');
    expect(d.commands).toEqual([]);
  });

  it('file-change: only the item.started line yields no files', () => {
    const started = lines('file-change.jsonl').filter((l) => l.includes('"item.started"'));
    expect(started).toHaveLength(1);
    expect(started.reduce(foldEventLine, emptyDigest()).filesChanged).toEqual([]);
  });

  it('file-change: the same completed item folded twice keeps each path once', () => {
    const completed = lines('file-change.jsonl').find((l) => l.includes('"item.completed"') && l.includes('file_change'))!;
    const d = [completed, completed].reduce(foldEventLine, emptyDigest());
    expect(d.filesChanged).toEqual(['/tmp/REPO/hello.txt', '/tmp/REPO/notes.txt']);
  });

  it('model-warning: the non-fatal `error` item is not an error', () => {
    const d = fold('model-warning.jsonl');
    expect(d.errors).toEqual([]);
    expect(d.turnFailed).toBe(false);
    expect(d.lastAgentMessage).toBe('DONE');
    expect(d.usage).toEqual({ input_tokens: 1001, cached_input_tokens: 100, output_tokens: 51, reasoning_output_tokens: 7 });
  });

  it('interrupted-sigint: session known, no turn.failed, no usage, the unfinished command not recorded', () => {
    const d = fold('interrupted-sigint.jsonl');
    expect(d.sessionId).toBe('01a2122a-f5e8-7c01-bd31-e08920c11305');
    expect(d.turnFailed).toBe(false);
    expect(d.errors).toEqual([]);
    expect(d.usage).toBeNull();
    expect(d.commands).toEqual([]);
    expect(d.lastAgentMessage).toBeNull();
  });

  it('returns the same digest object it was given', () => {
    const d = emptyDigest();
    expect(foldEventLine(d, lines('exec-json.jsonl')[0]!)).toBe(d);
    expect(d.sessionId).not.toBeNull();
  });
});

describe('foldEventLine on lines that are not events', () => {
  const junk = [
    '',
    'Reading additional input from stdin...',
    '{not json',
    '{"type":"thread.started","thread_id":',
    '[1,2,3]',
    '"a string"',
    '42',
    'null',
    '{}',
    '{"type":42}',
    '{"type":"item.completed","item":null}',
    '{"type":"item.completed","item":[1]}',
    '{"type":"item.completed","item":{"type":"file_change","changes":"nope"}}',
    '{"type":"item.completed","item":{"type":"file_change","changes":[null,1,{"path":3}]}}',
    '{"type":"turn.completed","usage":"lots"}',
    '{"type":"thread.started","thread_id":null}',
  ];
  for (const line of junk) {
    it(`ignores ${JSON.stringify(line)}`, () => {
      // A well-typed event with a bad payload still shows progress; it adds nothing else.
      const { progress, ...rest } = foldEventLine(emptyDigest(), line);
      const { progress: none, ...empty } = emptyDigest();
      expect(rest).toEqual(empty);
      const event = (() => {
        try {
          return JSON.parse(line);
        } catch {
          return null;
        }
      })();
      expect(progress).toBe(/^(thread|turn|item)\./.test(event?.type) ? 1 : none);
    });
  }

  it('a thread.started without an id keeps the known session id', () => {
    const d = foldEventLine(emptyDigest(), '{"type":"thread.started","thread_id":"01a2122a-e8ea-7501-90e5-337c8e7d20b8"}');
    foldEventLine(d, '{"type":"thread.started"}');
    expect(d.sessionId).toBe('01a2122a-e8ea-7501-90e5-337c8e7d20b8');
  });

  it('a turn.failed without a message still counts, with a generic text', () => {
    const d = foldEventLine(emptyDigest(), '{"type":"turn.failed"}');
    expect(d.turnFailed).toBe(true);
    expect(d.errors).toEqual(['turn failed']);
  });

  it('non-numeric usage fields become 0', () => {
    const d = foldEventLine(emptyDigest(), '{"type":"turn.completed","usage":{"input_tokens":"5","output_tokens":7}}');
    expect(d.usage).toEqual({ input_tokens: 0, cached_input_tokens: 0, output_tokens: 7, reasoning_output_tokens: 0 });
  });

  it('a command without a numeric exit code records null', () => {
    const d = foldEventLine(emptyDigest(), '{"type":"item.completed","item":{"type":"command_execution","command":"ls","exit_code":null}}');
    expect(d.commands).toEqual([{ command: 'ls', exit_code: null }]);
  });
});

describe('progress and reconnecting (what the stall limit watches)', () => {
  // The lines Codex 0.169 prints with no network (default features) and while retrying a request.
  const waiting = '{"type":"error","message":"Reconnecting... waiting for network (Connection failed: error sending request)"}';
  const retrying = '{"type":"error","message":"Reconnecting... 2/5 (stream disconnected before completion: idle timeout waiting for SSE)"}';

  it('thread.*, turn.* and item.* events are progress; error events and junk are not', () => {
    const d = emptyDigest();
    for (const line of ['{"type":"thread.started","thread_id":"x"}', '{"type":"turn.started"}', '{"type":"item.started","item":{}}']) {
      foldEventLine(d, line);
    }
    expect(d.progress).toBe(3);
    for (const line of [waiting, retrying, '{"type":"error","message":"boom"}', 'not json', '{"type":"session.x"}']) foldEventLine(d, line);
    expect(d.progress).toBe(3);
  });

  it('reconnect notices are not errors: the last one since the last progress is kept, progress clears it', () => {
    const d = foldEventLine(foldEventLine(emptyDigest(), '{"type":"turn.started"}'), waiting);
    expect(d.errors).toEqual([]);
    expect(d.reconnecting).toBe('Reconnecting... waiting for network (Connection failed: error sending request)');
    foldEventLine(d, retrying);
    expect(d.reconnecting).toMatch(/^Reconnecting\.\.\. 2\/5/);
    foldEventLine(d, '{"type":"item.completed","item":{"type":"agent_message","text":"hi"}}');
    expect(d.reconnecting).toBeNull();
    foldEventLine(d, '{"type":"error","message":"stream disconnected"}');
    expect(d.errors).toEqual(['stream disconnected']);
  });
});

describe('bounds: whatever Codex prints, the digest stays small', () => {
  it('an error text is cut with a marker saying where the whole text is', () => {
    const d = foldEventLine(emptyDigest(), JSON.stringify({ type: 'error', message: 'e'.repeat(100_000) }));
    expect(Buffer.byteLength(d.errors[0]!)).toBeLessThan(MAX_ERROR_BYTES + 200);
    expect(d.errors[0]).toMatch(/^e+\n… \[cut after 4096 bytes; the whole text is in the run's events.jsonl or codex.log\]$/);
  });

  it('keeps at most MAX_ERRORS errors: the first ones and the latest', () => {
    const d = emptyDigest();
    for (let i = 0; i < 100; i++) addError(d, `error ${i}`);
    expect(d.errors).toHaveLength(MAX_ERRORS);
    expect(d.errors[0]).toBe('error 0');
    expect(d.errors.at(-2)).toBe(`error ${MAX_ERRORS - 2}`);
    expect(d.errors.at(-1)).toBe('error 99');
  });

  it('keeps at most 20 stderr lines of 1 KiB, the last ones', () => {
    const d = emptyDigest();
    for (let i = 0; i < 100; i++) foldLogLine(d, `line ${i} ${'x'.repeat(5000)}`);
    expect(d.stderrTail).toHaveLength(20);
    expect(d.stderrTail[19]).toMatch(/^line 99 x+\n… \[cut/);
    expect(Math.max(...d.stderrTail.map((l) => Buffer.byteLength(l)))).toBeLessThan(1200);
  });

  it('lists at most 500 commands and paths, each cut; the counts cover every command', () => {
    const d = emptyDigest();
    for (let i = 0; i < 600; i++) {
      foldEventLine(
        d,
        JSON.stringify({
          type: 'item.completed',
          item: { type: 'command_execution', command: `c${i} ${'x'.repeat(5000)}`, exit_code: i % 2 },
        }),
      );
      foldEventLine(d, JSON.stringify({ type: 'item.completed', item: { type: 'file_change', changes: [{ path: `/p${i}` }] } }));
    }
    expect(d.commandCount).toBe(600);
    expect(d.commandsFailed).toBe(300);
    expect(d.commands).toHaveLength(500);
    expect(Math.max(...d.commands.map((c) => Buffer.byteLength(c.command)))).toBeLessThan(1200);
    expect(d.filesChanged).toHaveLength(500);
  });
});

describe('addError', () => {
  it('keeps each text once, where it was last seen', () => {
    const d = emptyDigest();
    addError(d, 'b');
    addError(d, 'a');
    addError(d, 'b');
    expect(d.errors).toEqual(['a', 'b']);
  });
});

describe('sessionIdFromBannerLine', () => {
  it('exactly one line of exec-human.stderr.txt yields the id on that line', () => {
    const all = lines('exec-human.stderr.txt');
    const hits = all.map((l) => [l, sessionIdFromBannerLine(l)] as const).filter(([, id]) => id !== null);
    expect(hits).toEqual([['session id: 01a2122a-ee4c-7a92-b63e-c67ae5d93694', '01a2122a-ee4c-7a92-b63e-c67ae5d93694']]);
    expect(all.filter((l) => sessionIdFromBannerLine(l) === null)).toHaveLength(all.length - 1);
  });

  it('tolerates a trailing CR', () => {
    expect(sessionIdFromBannerLine('session id: 01a2122a-ee4c-7a92-b63e-c67ae5d93694\r')).toBe('01a2122a-ee4c-7a92-b63e-c67ae5d93694');
  });

  it('rejects partial or embedded ids', () => {
    expect(sessionIdFromBannerLine('session id: 01a2122a-ee4c-7a92-b63e')).toBeNull();
    expect(sessionIdFromBannerLine('user said session id: 01a2122a-ee4c-7a92-b63e-c67ae5d93694')).toBeNull();
    expect(sessionIdFromBannerLine('session id: 01a2122a-ee4c-7a92-b63e-c67ae5d93694 extra')).toBeNull();
  });

  it('no line of the other stderr captures yields an id', () => {
    for (const f of ['failed-500.stderr.txt', 'interrupted-sigint.stderr.txt']) {
      expect(
        lines(f)
          .map(sessionIdFromBannerLine)
          .filter((x) => x !== null),
      ).toEqual([]);
    }
  });
});

describe('errorFromLogLine', () => {
  it('no line of failed-500.stderr.txt is an error (in --json mode the 500 goes to stdout)', () => {
    const all = lines('failed-500.stderr.txt');
    expect(all.length).toBeGreaterThan(1);
    expect(all.map(errorFromLogLine)).toEqual(all.map(() => null));
  });

  it('the tracing ERROR line of interrupted-sigint.stderr.txt is not an Error: line', () => {
    expect(
      lines('interrupted-sigint.stderr.txt')
        .map(errorFromLogLine)
        .filter((x) => x !== null),
    ).toEqual([]);
  });

  it('returns the text after "Error: "', () => {
    const line = 'Error: thread/resume: thread/resume failed: no rollout found for thread id 01a2122a-0000-7000-8000-000000000000';
    expect(errorFromLogLine(line)).toBe(
      'thread/resume: thread/resume failed: no rollout found for thread id 01a2122a-0000-7000-8000-000000000000',
    );
    expect(errorFromLogLine('Error: spaced out   ')).toBe('spaced out');
  });

  it('ignores lines that merely contain Error', () => {
    expect(errorFromLogLine('WARNING: Error: nested')).toBeNull();
    expect(errorFromLogLine('error: lower case')).toBeNull();
    expect(errorFromLogLine('Error:no-space')).toBeNull();
  });
});
