import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JobSpec, type RunMeta } from '../../src/job-schema.js';
import { INTERRUPTED_PREFIX, MAX_ATTEMPTS, asResume, recoverOrphans } from '../../src/recovery.js';
import { createRunDir, runFiles, writeMeta } from '../../src/run-files.js';
import { ensureSpool, spoolLayout, type SpoolLayout } from '../../src/spool-layout.js';

const SESSION = '01a2122a-e8ea-7501-90e5-337c8e7d20b8';
const OTHER = '01a2122a-f06c-77d0-9cc3-29b53f2de4d6';

describe('asResume', () => {
  const spec: JobSpec = { repo: '/r', task: 'build it', model: 'm', sandbox: 'read-only' };

  it('prefixes the task, sets resume and attempts, keeps the rest', () => {
    const r = asResume(spec, SESSION, 1);
    expect(r).toEqual({ repo: '/r', task: `${INTERRUPTED_PREFIX}build it`, model: 'm', sandbox: 'read-only', resume: SESSION, attempts: 1 });
    expect(spec.task).toBe('build it'); // input not mutated
  });

  it('is idempotent on the prefix: a second call does not prefix again', () => {
    const twice = asResume(asResume(spec, SESSION, 1), OTHER, 2);
    expect(twice.task).toBe(`${INTERRUPTED_PREFIX}build it`);
    expect(twice.task.split(INTERRUPTED_PREFIX)).toHaveLength(2);
    expect(twice.resume).toBe(OTHER);
    expect(twice.attempts).toBe(2);
  });

  it('replaces an earlier resume (a job id) with the session', () => {
    expect(asResume({ ...spec, resume: 'earlier-job' }, SESSION, 1).resume).toBe(SESSION);
  });

  it('the result is a valid JobSpec', () => {
    expect(JobSpec.safeParse(asResume(spec, SESSION, 2)).success).toBe(true);
  });

  it('throws on a session that is not a UUID-or-job-id (schema enforced)', () => {
    expect(() => asResume(spec, 'not a session', 1)).toThrow();
  });
});

describe('recoverOrphans', () => {
  let tmp: string;
  let layout: SpoolLayout;
  let logs: string[];
  const ctx = () => ({ layout, graceMs: 50, log: (l: string) => void logs.push(l) });

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

  it('a job with a run and a session goes back as a resume of it, one attempt counted', async () => {
    await runWithSession('run-1', SESSION);
    await writeFile(layout.job('active', 'a'), JSON.stringify({ repo: '/r', task: 'build', run_id: 'run-1' }));
    expect(await recoverOrphans(ctx())).toBe(1);
    expect(JSON.parse(await readFile(layout.job('inbox', 'a'), 'utf8'))).toEqual({
      repo: '/r',
      task: `${INTERRUPTED_PREFIX}build`,
      resume: SESSION,
      attempts: 1,
    });
  });

  it('a job with a run but no session goes back as it was, one attempt counted, without run_id', async () => {
    await runWithSession('run-1', null);
    await writeFile(layout.job('active', 'a'), JSON.stringify({ repo: '/r', task: 'build', run_id: 'run-1', attempts: 1 }));
    await recoverOrphans(ctx());
    expect(JSON.parse(await readFile(layout.job('inbox', 'a'), 'utf8'))).toEqual({ repo: '/r', task: 'build', attempts: 2 });
  });

  it(`fails the job once it reaches ${MAX_ATTEMPTS} attempts`, async () => {
    await runWithSession('run-9', SESSION);
    await writeFile(layout.job('active', 'a'), JSON.stringify({ repo: '/r', task: 'b', run_id: 'run-9', attempts: MAX_ATTEMPTS - 1 }));
    await recoverOrphans(ctx());
    const failed = JSON.parse(await readFile(layout.job('failed', 'a'), 'utf8'));
    expect(failed.attempts).toBe(MAX_ATTEMPTS);
    expect(failed.result).toMatchObject({ run_id: 'run-9', session_id: SESSION, status: 'failed' });
    expect(failed.result.error).toContain(String(MAX_ATTEMPTS));
    expect(await readdir(layout.dir('inbox'))).toEqual([]);
    expect(await readdir(layout.dir('active'))).toEqual([]);
  });

  it('an active copy of an already finished job is just removed', async () => {
    await writeFile(layout.job('done', 'a'), '{"final":true}');
    await writeFile(layout.job('active', 'a'), JSON.stringify({ repo: '/r', task: 'b', run_id: 'x' }));
    await recoverOrphans(ctx());
    expect(await readdir(layout.dir('active'))).toEqual([]);
    expect(await readdir(layout.dir('inbox'))).toEqual([]);
    expect(await readFile(layout.job('done', 'a'), 'utf8')).toBe('{"final":true}');
  });

  it('ignores names that are not job files', async () => {
    await writeFile(join(layout.dir('active'), '.a.json.123.tmp'), '{}');
    await writeFile(join(layout.dir('active'), 'notes.txt'), 'x');
    expect(await recoverOrphans(ctx())).toBe(0);
    expect((await readdir(layout.dir('active'))).sort()).toEqual(['.a.json.123.tmp', 'notes.txt']);
  });
});
