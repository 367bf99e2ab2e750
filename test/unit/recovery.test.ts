import { execFileSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { link, mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunMeta } from '../../src/spool/schema.js';
import { MAX_ATTEMPTS } from '../../src/worker/retry-policy.js';
import { recoverOrphans } from '../../src/worker/recovery.js';
import { createRunDir, runFiles, writeMeta } from '../../src/spool/run-files.js';
import { ensureSpool, spoolLayout, type SpoolLayout } from '../../src/spool/layout.js';

const SESSION = '01a2122a-e8ea-7501-90e5-337c8e7d20b8';

describe('recoverOrphans', () => {
  let tmp: string;
  let layout: SpoolLayout;
  let logs: string[];
  const ctx = () => ({ layout, graceMs: 50, retryBaseMs: 30_000, log: (l: string) => void logs.push(l) });

  beforeEach(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'codex-spool-unit-recovery-'));
    layout = spoolLayout(join(tmp, 'root'));
    await ensureSpool(layout);
    logs = [];
  });
  afterEach(() => rm(tmp, { recursive: true, force: true }));

  async function runWithSession(runId: string, session: string | null): Promise<void> {
    const files = runFiles(layout.runs, runId);
    await createRunDir(files);
    const meta: RunMeta = {
      run_id: runId,
      job_id: 'j',
      repo: '/r',
      task: 't',
      resumed_from: null,
      argv: [],
      codex_bin: 'codex',
      codex_version: null,
      pid: null,
      started_at: '2026-01-01T00:00:00.000Z',
      status: 'running',
      session_id: session,
    };
    await writeMeta(files, meta);
  }

  it('a claimed job that never started a run goes back to the inbox byte for byte', async () => {
    await writeFile(layout.job('active', 'a'), 'not even json');
    expect(await recoverOrphans(ctx())).toBe(1);
    expect(await readFile(layout.job('inbox', 'a'), 'utf8')).toBe('not even json');
    expect(await readdir(layout.dir('active'))).toEqual([]);
  });

  it('a worker-queued job that never started a run goes back to deferred/ byte for byte', async () => {
    const text = JSON.stringify({ repo: '/r', task: 'b', queued_at: 5, attempts: 1 });
    await writeFile(layout.job('active', 'a'), text);
    await recoverOrphans(ctx());
    expect(await readFile(layout.job('deferred', 'a'), 'utf8')).toBe(text);
  });

  it('never replaces a file of the same name where it goes back to: tried again next pass', async () => {
    await writeFile(layout.job('active', 'a'), 'mine');
    await writeFile(layout.job('inbox', 'a'), 'another');
    expect(await recoverOrphans(ctx())).toBe(0);
    expect(await readFile(layout.job('inbox', 'a'), 'utf8')).toBe('another');
    expect(await readFile(layout.job('active', 'a'), 'utf8')).toBe('mine');
    expect(logs.join('\n')).toContain('tried again next pass');
  });

  it('one job it cannot recover does not stop the others', async () => {
    await writeFile(layout.job('active', 'a'), 'mine');
    await writeFile(layout.job('inbox', 'a'), 'another');
    await writeFile(layout.job('active', 'b'), 'b bytes');
    expect(await recoverOrphans(ctx())).toBe(1);
    expect(await readFile(layout.job('inbox', 'b'), 'utf8')).toBe('b bytes');
  });

  it('a job with a run and a session is queued again to resume it, as submitted, in its place, one attempt counted', async () => {
    await runWithSession('run-1', SESSION);
    await writeFile(layout.job('active', 'a'), JSON.stringify({ repo: '/r', task: 'build', queued_at: 7, attempts: 0, run_id: 'run-1' }));
    expect(await recoverOrphans(ctx())).toBe(1);
    expect(JSON.parse(await readFile(layout.job('deferred', 'a'), 'utf8'))).toEqual({
      repo: '/r',
      task: 'build',
      queued_at: 7,
      attempts: 1,
      resume_session: SESSION,
      reason: 'recovered: its worker stopped without filing it',
    });
    const meta = JSON.parse(await readFile(runFiles(layout.runs, 'run-1').meta, 'utf8'));
    expect(meta.status).toBe('interrupted');
  });

  // Seen: a FIFO in place of a run's events.jsonl hung recovery (and status, logs) for ever: open waited for a writer.
  it('a run whose events or last message are not regular files (FIFO, looping link) is recovered, never waited on', async () => {
    const completed = [`{"type":"thread.started","thread_id":"${SESSION}"}`, '{"type":"turn.started"}', '{"type":"turn.completed"}'];
    const plants = [
      ['fifo', (path: string) => execFileSync('mkfifo', [path])],
      ['loop', (path: string) => symlinkSync(path, path)],
    ] as const;
    for (const [kind, plant] of plants) {
      // Its events planted: a run that did not end. Its events whole and its last message planted: a run that succeeded.
      for (const [id, planted] of [
        [`${kind}-events`, 'events'],
        [`${kind}-message`, 'last_message'],
      ] as const) {
        await runWithSession(`run-${id}`, SESSION);
        const files = runFiles(layout.runs, `run-${id}`);
        if (planted === 'last_message') await writeFile(files.events, `${completed.join('\n')}\n`);
        plant(files[planted]);
        await writeFile(
          layout.job('active', id),
          JSON.stringify({ repo: '/r', task: 't', queued_at: 7, attempts: 0, run_id: `run-${id}` }),
        );
      }
    }
    expect(await recoverOrphans(ctx())).toBe(4);
    expect(logs.sort()).toEqual(
      plants.flatMap(([kind]) => [
        `recovered ${kind}-events: queued again to resume ${SESSION} (attempt 2)`,
        `recovered ${kind}-message: its run had ended (succeeded): filed in done/`,
      ]),
    );
  });

  it('a job with a run but no session is queued again as it was, one attempt counted, without run_id', async () => {
    await runWithSession('run-1', null);
    await writeFile(layout.job('active', 'a'), JSON.stringify({ repo: '/r', task: 'build', queued_at: 7, run_id: 'run-1', attempts: 1 }));
    await recoverOrphans(ctx());
    expect(JSON.parse(await readFile(layout.job('deferred', 'a'), 'utf8'))).toEqual({
      repo: '/r',
      task: 'build',
      queued_at: 7,
      attempts: 2,
      reason: 'recovered: its worker stopped without filing it',
    });
  });

  /** Run run-2 of job a ended as `over` says, its summary written (as its worker writes it before filing or requeueing it). */
  async function endedRun(over: object): Promise<void> {
    await runWithSession('run-2', SESSION);
    const files = runFiles(layout.runs, 'run-2');
    const summary = {
      run_id: 'run-2',
      job_id: 'a',
      session_id: SESSION,
      resumed_from: null,
      repo: '/r',
      task: 'build',
      status: 'succeeded',
      exit_code: 0,
      signal: null,
      started_at: '2026-01-01T00:00:00.000Z',
      ended_at: '2026-01-01T00:00:01.000Z',
      elapsed_seconds: 1,
      final_message: 'all done',
      usage: null,
      commands: { count: 0, failed: 0, items: [] },
      files_changed: { count: 0, paths: [] },
      errors: [],
      files,
      ...over,
    };
    await writeFile(files.summary, JSON.stringify(summary));
  }

  it('a run that had ended (its summary written) is filed as it ended, never run again', async () => {
    await endedRun({});
    await writeFile(layout.job('active', 'a'), JSON.stringify({ repo: '/r', task: 'build', queued_at: 7, attempts: 0, run_id: 'run-2' }));
    await recoverOrphans(ctx());
    const done = JSON.parse(await readFile(layout.job('done', 'a'), 'utf8'));
    expect(done.result).toMatchObject({ run_id: 'run-2', status: 'succeeded', final_message: 'all done' });
    expect(await readdir(layout.dir('deferred'))).toEqual([]);
  });

  it('a run that had ended on a usage limit or a transient fault is queued again as its worker would have, not filed as failed', async () => {
    for (const error of ["You've hit your usage limit. Try again in 2 seconds.", 'stream disconnected before completion']) {
      await rm(layout.job('deferred', 'a'), { force: true });
      await rm(runFiles(layout.runs, 'run-2').dir, { recursive: true, force: true });
      await endedRun({ status: 'failed', exit_code: 1, final_message: null, errors: [error] });
      await writeFile(layout.job('active', 'a'), JSON.stringify({ repo: '/r', task: 'build', queued_at: 7, attempts: 0, run_id: 'run-2' }));
      await recoverOrphans(ctx());
      const queued = JSON.parse(await readFile(layout.job('deferred', 'a'), 'utf8'));
      expect([queued.resume_session, queued.reason.startsWith(error.includes('usage') ? 'usage limit' : 'transient failure')]).toEqual([
        SESSION,
        true,
      ]);
      expect(await readdir(layout.dir('failed'))).toEqual([]);
    }
  });

  it('a cancel request counts only for the run it names', async () => {
    await runWithSession('run-3', SESSION);
    await writeFile(layout.job('active', 'a'), JSON.stringify({ repo: '/r', task: 'build', queued_at: 7, attempts: 0, run_id: 'run-3' }));
    await writeFile(layout.cancelRequest('a'), 'run-OLD\n');
    await recoverOrphans(ctx());
    expect(await readdir(layout.dir('deferred'))).toEqual(['a.json']);
  });

  it(`fails the job once it reaches ${MAX_ATTEMPTS} attempts`, async () => {
    await runWithSession('run-9', SESSION);
    await writeFile(
      layout.job('active', 'a'),
      JSON.stringify({ repo: '/r', task: 'b', queued_at: 7, run_id: 'run-9', attempts: MAX_ATTEMPTS - 1 }),
    );
    await recoverOrphans(ctx());
    const failed = JSON.parse(await readFile(layout.job('failed', 'a'), 'utf8'));
    expect(failed.attempts).toBe(MAX_ATTEMPTS);
    expect(failed.result).toMatchObject({ run_id: 'run-9', session_id: SESSION, status: 'failed' });
    expect(failed.result.error).toContain(String(MAX_ATTEMPTS));
    expect(await readdir(layout.dir('inbox'))).toEqual([]);
    expect(await readdir(layout.dir('active'))).toEqual([]);
  });

  // A move out of active/ is a link, then an unlink. Cut short between them, both names remain: on a local
  // file system as one inode with two links, through sshfs as two files of the same bytes.
  it('an active job also queued under its other name (a cut-short move, linked or as sshfs shows it) is removed from active/ only', async () => {
    for (const [state, asCopy] of [
      ['inbox', false],
      ['inbox', true],
      ['deferred', false],
      ['deferred', true],
    ] as const) {
      const text = JSON.stringify({ repo: '/r', task: `${state} ${asCopy}`, queued_at: 5, attempts: 1 });
      await writeFile(layout.job('active', 'a'), text);
      if (asCopy) await writeFile(layout.job(state, 'a'), text);
      else await link(layout.job('active', 'a'), layout.job(state, 'a'));
      expect(await recoverOrphans(ctx())).toBe(1);
      expect(await readdir(layout.dir('active'))).toEqual([]);
      expect(await readFile(layout.job(state, 'a'), 'utf8')).toBe(text);
      await unlink(layout.job(state, 'a'));
    }
    expect(logs.filter((l) => l.includes('already filed or queued; active copy removed'))).toHaveLength(4);
  });

  it('an active job beside a different file of its id in the inbox is not taken for a second name', async () => {
    await writeFile(layout.job('active', 'a'), JSON.stringify({ repo: '/r', task: 'mine' }));
    await writeFile(layout.job('inbox', 'a'), JSON.stringify({ repo: '/r', task: 'another' }));
    expect(await recoverOrphans(ctx())).toBe(0); // its return to the inbox would replace the other: next pass
    expect(await readdir(layout.dir('active'))).toEqual(['a.json']);
  });

  it('an active copy of an already finished job is just removed', async () => {
    await writeFile(layout.job('done', 'a'), '{"final":true}');
    await writeFile(layout.job('active', 'a'), JSON.stringify({ repo: '/r', task: 'b', run_id: 'x' }));
    await recoverOrphans(ctx());
    expect(await readdir(layout.dir('active'))).toEqual([]);
    expect(await readdir(layout.dir('inbox'))).toEqual([]);
    expect(await readFile(layout.job('done', 'a'), 'utf8')).toBe('{"final":true}');
  });

  // The class behind 91732a0: only an event's own top-level type says a turn completed. A tool call's raw
  // JSON (MCP arguments and results are objects, not strings) may hold {"type":"turn.completed"} at any depth.
  it('a run whose events only quote turn.completed inside items is resumed, never filed; a real turn.completed is filed', async () => {
    const fakeEnd = fc.constantFrom<unknown>(
      { type: 'turn.completed' },
      { usage: { input_tokens: 1 }, type: 'turn.completed' },
      '{"type":"turn.completed"}',
    );
    const nested = fc
      .tuple(fc.jsonValue({ maxDepth: 2 }), fakeEnd, fc.boolean())
      .map(([v, end, inArray]) => (inArray ? [v, end] : { v, deep: { end } }));
    const item = fc
      .record({
        kind: fc.constantFrom('item.started', 'item.completed'),
        type: fc.constantFrom('mcp_tool_call', 'command_execution'),
        raw: nested,
      })
      .map((r) =>
        JSON.stringify({
          type: r.kind,
          item: { id: 'i1', type: r.type, arguments: r.raw, result: { structured_content: r.raw }, status: 'completed' },
        }),
      );
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(item, { minLength: 1, maxLength: 4 }), fc.boolean(), async (items, reallyCompleted) => {
        const runId = `run-p${n++}`;
        await runWithSession(runId, SESSION);
        const lines = [`{"type":"thread.started","thread_id":"${SESSION}"}`, '{"type":"turn.started"}', ...items];
        if (reallyCompleted) lines.push('{"type":"turn.completed","usage":{"input_tokens":1,"cached_input_tokens":0,"output_tokens":1}}');
        await writeFile(runFiles(layout.runs, runId).events, `${lines.join('\n')}\n`);
        await writeFile(layout.job('active', 'a'), JSON.stringify({ repo: '/r', task: 'b', queued_at: 7, attempts: 0, run_id: runId }));
        await recoverOrphans(ctx());
        const where = reallyCompleted ? 'done' : 'deferred';
        expect(await readdir(layout.dir(where))).toEqual(['a.json']);
        await rm(layout.job(where, 'a'));
        expect(await readdir(layout.dir('active'))).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });

  it('ignores names that are not job files', async () => {
    await writeFile(join(layout.dir('active'), '.a.json.123.tmp'), '{}');
    await writeFile(join(layout.dir('active'), 'notes.txt'), 'x');
    expect(await recoverOrphans(ctx())).toBe(0);
    expect((await readdir(layout.dir('active'))).sort()).toEqual(['.a.json.123.tmp', 'notes.txt']);
  });
});
