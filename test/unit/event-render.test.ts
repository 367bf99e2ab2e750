import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { currentActivity, displayCommand, errorLine, renderEvent, renderLog } from '../../src/read/event-render.js';
import { HOSTILE_TEXT, UNSAFE_OUTPUT } from '../helpers/hostile.js';

const fixtureDir = new URL('../fixtures/codex/', import.meta.url);
const lines = (file: string): string[] => readFileSync(new URL(file, fixtureDir), 'utf8').split('\n');
const render = (file: string) => renderLog(lines(file), { repo: '/tmp/REPO' });

describe('renderLog on real Codex 0.169 output', () => {
  it('exec-json: session, the command once with its exit code, the agent message, the session tokens', () => {
    expect(render('exec-json.jsonl')).toEqual([
      'session 01a2122a-e8ea-7501-90e5-337c8e7d20b8',
      "$ printf 'hello\\n' > hello.txt → exit 0",
      'agent: DONE: created hello.txt',
      'turn completed; session tokens in 2002 (cached 200), out 102 (reasoning 14)',
    ]);
  });

  it('resume-json: same session, the cumulative tokens of the session', () => {
    const out = render('resume-json.jsonl');
    expect(out[0]).toBe('session 01a2122a-e8ea-7501-90e5-337c8e7d20b8');
    expect(out).toContain("$ printf 'world\\n' >> hello.txt → exit 0");
    expect(out.at(-1)).toBe('turn completed; session tokens in 4004 (cached 400), out 204 (reasoning 28)');
  });

  it('failed-500: the error and the failed turn', () => {
    const message = 'We’re currently experiencing high demand, which may cause temporary errors.';
    expect(render('failed-500.jsonl')).toEqual([
      'session 01a2122a-f06c-77d0-9cc3-29b53f2de4d6',
      `error: ${message}`,
      `turn failed: ${message}`,
    ]);
  });

  it('file-change: one line for the change, paths relative to the repo', () => {
    expect(render('file-change.jsonl')).toEqual([
      'session 01a2122a-f234-7090-83ee-5590945d365c',
      'files: update hello.txt, add notes.txt',
      'agent: DONE: patched',
      'turn completed; session tokens in 2002 (cached 200), out 102 (reasoning 14)',
    ]);
    // Without a repo (or outside it) the path is shown as Codex gave it.
    const change = lines('file-change.jsonl').find((l) => l.includes('item.completed') && l.includes('file_change'))!;
    expect(renderEvent(change)).toBe('files: update /tmp/REPO/hello.txt, add /tmp/REPO/notes.txt');
  });

  it('interrupted-sigint: the command that never completed still shows, as started', () => {
    expect(render('interrupted-sigint.jsonl')).toEqual(['session 01a2122a-f5e8-7c01-bd31-e08920c11305', '$ sleep 30']);
  });

  it('model-warning: a non-fatal error item is a warning, not an error', () => {
    const out = render('model-warning.jsonl');
    expect(out[1]).toMatch(/^warning: Model metadata for `mock-model` not found/);
    expect(out.some((l) => l.startsWith('error:'))).toBe(false);
    expect(out).toContain('agent: DONE');
  });
});

describe('renderEvent, one line at a time (logs -f)', () => {
  it('shows a command when it starts and again with its exit code when it completes', () => {
    const [started, completed] = lines('exec-json.jsonl').filter((l) => l.includes('command_execution'));
    expect(renderEvent(started!)).toBe("$ printf 'hello\\n' > hello.txt");
    expect(renderEvent(completed!)).toBe("$ printf 'hello\\n' > hello.txt → exit 0");
  });

  it('every fixture line renders to null or to one line of at most the width', () => {
    for (const file of [
      'exec-json.jsonl',
      'resume-json.jsonl',
      'failed-500.jsonl',
      'file-change.jsonl',
      'interrupted-sigint.jsonl',
      'model-warning.jsonl',
    ]) {
      for (const line of lines(file)) {
        const out = renderEvent(line, { width: 60 });
        if (out !== null) {
          expect(out, `${file}: ${line}`).not.toContain('\n');
          expect(out.length, `${file}: ${out}`).toBeLessThanOrEqual(60);
        }
      }
    }
  });

  it('turn.started, reasoning, item.updated, unknown types and non-JSON lines render to nothing', () => {
    expect(renderEvent('{"type":"turn.started"}')).toBeNull();
    expect(renderEvent('{"type":"item.completed","item":{"id":"i","type":"reasoning","text":"hmm"}}')).toBeNull();
    expect(renderEvent('{"type":"item.updated","item":{"id":"i","type":"todo_list","items":[]}}')).toBeNull();
    expect(renderEvent('{"type":"thread.something_new"}')).toBeNull();
    expect(renderEvent('Reading additional input from stdin...')).toBeNull();
    expect(renderEvent('{"type":')).toBeNull();
    expect(renderEvent('[1,2]')).toBeNull();
  });

  it('a long multi-line agent message becomes one cut line', () => {
    const text = `first line\n\nsecond ${'x'.repeat(500)}`;
    const out = renderEvent(JSON.stringify({ type: 'item.completed', item: { id: 'i', type: 'agent_message', text } }))!;
    expect(out.startsWith('agent: first line second xxx')).toBe(true);
    expect(out).toHaveLength(160);
    expect(out.endsWith('…')).toBe(true);
  });

  it('a long command keeps its exit code visible', () => {
    const item = { id: 'c', type: 'command_execution', command: `/bin/bash -lc 'echo ${'y'.repeat(300)}'`, exit_code: 2, status: 'failed' };
    const out = renderEvent(JSON.stringify({ type: 'item.completed', item }))!;
    expect(out).toHaveLength(160);
    expect(out.endsWith('… → exit 2')).toBe(true);
  });

  it('other item kinds: tool calls, web searches, plans', () => {
    const ev = (type: string, item: object) => JSON.stringify({ type, item: { id: 'x', ...item } });
    expect(renderEvent(ev('item.started', { type: 'mcp_tool_call', server: 'docs', tool: 'search', status: 'in_progress' }))).toBe(
      'tool docs.search',
    );
    expect(renderEvent(ev('item.completed', { type: 'mcp_tool_call', server: 'docs', tool: 'search', status: 'failed' }))).toBe(
      'tool docs.search → failed',
    );
    expect(renderEvent(ev('item.completed', { type: 'web_search', query: 'vitest 4 config' }))).toBe('search: vitest 4 config');
    const todo = {
      type: 'todo_list',
      items: [
        { text: 'a', completed: true },
        { text: 'b', completed: false },
      ],
    };
    expect(renderEvent(ev('item.completed', todo))).toBe('plan: 1/2 done');
  });
});

describe('displayCommand', () => {
  it('unwraps the shell Codex runs commands in, undoing its quoting', () => {
    expect(displayCommand(`/bin/bash -lc "printf 'hello\\\\n' > hello.txt"`)).toBe(`printf 'hello\\n' > hello.txt`);
    expect(displayCommand(`/bin/bash -lc 'sleep 30'`)).toBe('sleep 30');
    expect(displayCommand(`/bin/bash -lc 'echo '\\''hi'\\'''`)).toBe(`echo 'hi'`);
    expect(displayCommand(`/bin/bash -lc "echo \\"\\$HOME\\""`)).toBe('echo "$HOME"');
    expect(displayCommand('git status')).toBe('git status');
  });
});

describe('errorLine', () => {
  it('is how an error reads, cut to the width', () => {
    expect(errorLine('stopped: the time limit was reached')).toBe('error: stopped: the time limit was reached');
    expect(errorLine('x'.repeat(300), 40)).toHaveLength(40);
  });
});

describe('renderEvent on hostile events', () => {
  it('every display line is one line with no control character, whatever strings the event holds (property)', () => {
    const text = fc.oneof(fc.constant(HOSTILE_TEXT), fc.string({ unit: 'binary', maxLength: 30 }));
    const item = fc.record({
      id: text,
      type: fc.constantFrom('agent_message', 'command_execution', 'file_change', 'mcp_tool_call', 'web_search', 'todo_list', 'error'),
      text,
      command: text,
      status: text,
      message: text,
      server: text,
      tool: text,
      query: text,
      changes: fc.array(fc.record({ kind: text, path: text }), { maxLength: 3 }),
      items: fc.array(fc.record({ text, completed: fc.boolean() }), { maxLength: 3 }),
    });
    const event = fc.record({
      type: fc.constantFrom('thread.started', 'turn.completed', 'turn.failed', 'error', 'item.started', 'item.completed'),
      thread_id: text,
      message: text,
      error: fc.record({ message: text }),
      item,
    });
    fc.assert(
      fc.property(event, fc.oneof(fc.constant(null), text), (e, repo) => {
        const shown = renderEvent(JSON.stringify(e), { repo });
        if (shown !== null)
          expect(shown).not.toMatch(/[\n]|[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('currentActivity (status of a running job)', () => {
  const ev = (e: object) => JSON.stringify(e);
  const started = ev({ type: 'thread.started', thread_id: 't' });
  const cmd = (type: string, id: string, command: string) =>
    ev({ type, item: { id, type: 'command_execution', command, exit_code: type === 'item.completed' ? 0 : null } });
  const said = (text: string) => ev({ type: 'item.completed', item: { id: 'm', type: 'agent_message', text } });
  const waiting = ev({ type: 'error', message: 'Reconnecting... waiting for network (Connection failed: error sending request)' });

  it('the command Codex is running, unwrapped from its shell', () => {
    expect(currentActivity([started, said('looking'), cmd('item.started', 'c1', "/bin/bash -lc 'printf hi > hello.txt'")])).toBe(
      '$ printf hi > hello.txt',
    );
  });

  it('once the command is done, the last message; before any, waiting for the model; before any event, nothing', () => {
    const done = [started, cmd('item.started', 'c1', 'ls'), cmd('item.completed', 'c1', 'ls')];
    expect(currentActivity(done)).toBe('waiting for the model');
    expect(currentActivity([...done, said('found it\nnext line')])).toBe('agent: found it next line');
    expect(currentActivity(['', '{"type":"thread.st'])).toBeNull();
  });

  it('waiting for network while only reconnect notices came since the last progress; a retry notice as it is', () => {
    expect(currentActivity([started, ev({ type: 'turn.started' }), waiting, waiting])).toBe('waiting for network');
    expect(currentActivity([started, waiting, said('back')])).toBe('agent: back');
    expect(currentActivity([started, ev({ type: 'error', message: 'Reconnecting... 2/5 (unexpected status 500)' })])).toBe(
      'Reconnecting... 2/5 (unexpected status 500)',
    );
  });

  it('property: whatever the events hold, one safe line of at most `width` characters', () => {
    const text = fc.oneof(fc.string(), fc.constant(HOSTILE_TEXT), fc.string({ minLength: 200, maxLength: 400 }));
    const event = fc.oneof(
      text.map((t) => said(t)),
      text.map((t) => cmd('item.started', t.slice(0, 3), t)),
      text.map((t) => ev({ type: 'error', message: `Reconnecting... ${t}` })),
      fc.constantFrom(started, waiting, cmd('item.completed', 'c1', 'ls')),
      text,
    );
    fc.assert(
      fc.property(fc.array(event, { maxLength: 10 }), fc.integer({ min: 10, max: 120 }), (lines, width) => {
        const a = currentActivity(lines, width);
        if (a === null) return;
        expect(a.length).toBeLessThanOrEqual(width);
        expect(a).not.toMatch(UNSAFE_OUTPUT);
        expect(a).not.toMatch(/\n/);
      }),
    );
  });
});
