import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULT_POLICY } from '../../src/spool/policy.js';
import { decideJob, parseJob, validateJob, type JobFacts } from '../../src/spool/validation.js';
import { PartialQueuedJob } from '../../src/spool/schema.js';
import type { Claim, JobFileContent } from '../../src/spool/moves.js';
import { ensureSpool, jobIdOf, spoolLayout, type JobState, type SpoolLayout } from '../../src/spool/layout.js';

const bytes = (v: unknown): Buffer => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
const content = (v: unknown): JobFileContent => ({ kind: 'bytes', bytes: bytes(v) });
const SESSION = '01a2122a-e8ea-7501-90e5-337c8e7d20b8';

function reasonOf(r: { kind: string; error?: { reason: string } }): string | undefined {
  return r.kind === 'reject' ? r.error?.reason : undefined;
}

describe('parseJob', () => {
  const good = { repo: '/some/repo', task: 'do it' };

  it('accepts a valid job and returns the spec', () => {
    const r = parseJob(
      'job-1.json',
      bytes({ ...good, model: 'm', sandbox: 'read-only', args: ['-c', 'x'], timeout_s: 1.5, max_attempts: 2 }),
    );
    expect(r).toEqual({
      kind: 'ok',
      spec: { repo: '/some/repo', task: 'do it', model: 'm', sandbox: 'read-only', args: ['-c', 'x'], timeout_s: 1.5, max_attempts: 2 },
    });
  });

  it('accepts 128-char ids and ids with . _ -', () => {
    expect(parseJob(`${'a'.repeat(128)}.json`, bytes(good)).kind).toBe('ok');
    expect(parseJob('a.b_c-D9.json', bytes(good)).kind).toBe('ok');
    expect(parseJob('-x.json', bytes(good)).kind).toBe('ok');
  });

  for (const name of ['a b.json', '.hidden.json', `${'a'.repeat(129)}.json`, '.json', 'caf\u00e9.json', 'a~1.json']) {
    it(`rejects the name ${JSON.stringify(name.length > 40 ? `${name.slice(0, 10)}…(${name.length} chars)` : name)} as bad_name`, () => {
      const r = parseJob(name, bytes(good));
      expect(r.kind).toBe('reject');
      if (r.kind !== 'reject') return;
      expect(r.error.reason).toBe('bad_name');
      expect(r.error.job_file).toBe(name);
      expect(r.error.issues).toEqual([]);
      expect(Number.isNaN(Date.parse(r.error.rejected_at))).toBe(false);
    });
  }

  it('rejects invalid UTF-8 bytes as invalid_json', () => {
    const raw = Buffer.concat([Buffer.from('{"repo":"/r","task":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const r = parseJob('x.json', raw);
    expect(reasonOf(r)).toBe('invalid_json');
    if (r.kind === 'reject') expect(r.error.message).toMatch(/UTF-8/);
  });

  it('accepts a UTF-8 BOM', () => {
    expect(parseJob('x.json', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes(good)])).kind).toBe('ok');
  });

  it('rejects text that is not JSON, and a truncated file', () => {
    expect(reasonOf(parseJob('x.json', bytes('repo: /r')))).toBe('invalid_json');
    expect(reasonOf(parseJob('x.json', bytes('{"repo":"/r","task":"t"')))).toBe('invalid_json');
    expect(reasonOf(parseJob('x.json', Buffer.alloc(0)))).toBe('invalid_json');
  });

  it('rejects JSON that is not an object as invalid_job', () => {
    for (const v of ['[]', '"job"', 'null', '42']) expect(reasonOf(parseJob('x.json', bytes(v)))).toBe('invalid_job');
  });

  it('rejects an unknown field, naming it', () => {
    const r = parseJob('x.json', bytes({ ...good, colour: 'red' }));
    expect(reasonOf(r)).toBe('invalid_job');
    if (r.kind === 'reject') expect(r.error.message).toContain('colour');
  });

  it('rejects a missing or empty task, with the path in issues', () => {
    const r = parseJob('x.json', bytes({ repo: '/r' }));
    expect(reasonOf(r)).toBe('invalid_job');
    if (r.kind === 'reject') expect(r.error.issues.map((i) => i.path)).toEqual(['task']);
    expect(reasonOf(parseJob('x.json', bytes({ repo: '/r', task: '' })))).toBe('invalid_job');
  });

  it('rejects a relative repo', () => {
    for (const repo of ['repo', './repo', '../repo', '~/repo', '']) {
      const r = parseJob('x.json', bytes({ repo, task: 't' }));
      expect(reasonOf(r)).toBe('invalid_job');
      if (r.kind === 'reject') expect(r.error.issues[0]?.path).toBe('repo');
    }
  });

  it('rejects a bad sandbox, timeout_s and attempts', () => {
    expect(reasonOf(parseJob('x.json', bytes({ ...good, sandbox: 'full' })))).toBe('invalid_job');
    expect(reasonOf(parseJob('x.json', bytes({ ...good, timeout_s: 0 })))).toBe('invalid_job');
    expect(reasonOf(parseJob('x.json', bytes({ ...good, timeout_s: '5' })))).toBe('invalid_job');
    expect(reasonOf(parseJob('x.json', bytes({ ...good, attempts: 1.5 })))).toBe('invalid_job');
    expect(reasonOf(parseJob('x.json', bytes({ ...good, args: 'a b' })))).toBe('invalid_job');
  });

  it('rejects a resume that is neither a UUID nor a job id', () => {
    expect(reasonOf(parseJob('x.json', bytes({ ...good, resume: '../etc/passwd' })))).toBe('invalid_job');
    expect(reasonOf(parseJob('x.json', bytes({ ...good, resume: '.hidden' })))).toBe('invalid_job');
  });

  it('rejects a __proto__ key and does not pollute Object.prototype', () => {
    const text = '{"repo":"/r","task":"t","__proto__":{"polluted":"yes","sandbox":"danger-full-access"}}';
    const r = parseJob('x.json', Buffer.from(text));
    expect(reasonOf(r)).toBe('invalid_job');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.hasOwn(Object.prototype, 'polluted')).toBe(false);
    expect(({} as Record<string, unknown>).sandbox).toBeUndefined();
  });

  it('rejects constructor/prototype keys too', () => {
    expect(reasonOf(parseJob('x.json', bytes('{"repo":"/r","task":"t","constructor":{"prototype":{"p":1}}}')))).toBe('invalid_job');
    expect(({} as Record<string, unknown>).p).toBeUndefined();
  });
});

/** A claim of `name` with these contents, as claimJob makes it (the file itself is not read again). */
const claimOf = (name: string, c: JobFileContent, from: 'inbox' | 'deferred' = 'inbox', duplicateOf: JobState | null = null): Claim => ({
  name,
  id: jobIdOf(name),
  path: '/nonexistent',
  from,
  queuedAt: 1000,
  duplicateOf,
  content: c,
  lost: new AbortController().signal,
  held: async () => true,
  release: async () => {},
});

describe('validateJob against a real spool', () => {
  let tmp: string;
  let layout: SpoolLayout;
  let repo: string;

  beforeEach(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'codex-spool-unit-validation-'));
    layout = spoolLayout(join(tmp, 'root'));
    await ensureSpool(layout);
    repo = join(tmp, 'repo');
    await mkdir(repo);
  });
  afterEach(() => rm(tmp, { recursive: true, force: true }));

  const finished = (sessionId: string | null, extra: Record<string, unknown> = {}) => ({
    repo,
    task: 'earlier',
    ...extra,
    result: {
      run_id: 'r1',
      session_id: sessionId,
      status: 'succeeded',
      exit_code: 0,
      elapsed_seconds: 1,
      final_message: null,
      error: null,
      summary: '/x/summary.json',
    },
  });

  it('ok for a valid new job: queued at its file time, no attempt yet, no resume session', async () => {
    expect(await validateJob(layout, claimOf('j.json', content({ repo, task: 't' })))).toEqual({
      kind: 'ok',
      job: { repo, task: 't', queued_at: 1000, attempts: 0 },
      repo,
      resumeSession: null,
    });
  });

  it('the repo is its real path: a symlink, a trailing slash and /./ all name one tree', async () => {
    await symlink(repo, join(tmp, 'link'));
    for (const spelled of [`${repo}/`, `${repo}/./`, join(tmp, 'link'), `${join(tmp, 'link')}/`]) {
      expect(await validateJob(layout, claimOf('j.json', content({ repo: spelled, task: 't' })))).toMatchObject({ kind: 'ok', repo });
    }
  });

  it('a fresh inbox job cannot set what the worker owns (attempts, queue place, schedule, session to continue)', async () => {
    for (const field of [
      { attempts: 1 },
      { queued_at: 1 },
      { not_before: '2026-01-01T00:00:00Z' },
      { resume_session: SESSION },
      { run_id: 'r' },
    ]) {
      expect(reasonOf(await validateJob(layout, claimOf('j.json', content({ repo, task: 't', ...field }))))).toBe('invalid_job');
    }
    const queued = { repo, task: 't', queued_at: 5, attempts: 2, resume_session: SESSION };
    expect(await validateJob(layout, claimOf('j.json', content(queued), 'deferred'))).toMatchObject({
      kind: 'ok',
      job: queued,
      resumeSession: SESSION,
    });
  });

  it('a review queued again after an interruption runs whole again: it continues no session', async () => {
    const queued = { repo, review: { base: 'main' }, queued_at: 5, attempts: 1, resume_session: SESSION };
    expect(await validateJob(layout, claimOf('j.json', content(queued), 'deferred'))).toMatchObject({
      kind: 'ok',
      job: queued,
      resumeSession: null,
    });
  });

  it('a repo that holds the spool, or lies in it, is refused by policy', async () => {
    for (const inside of [tmp, layout.root, join(layout.root, 'spool')]) {
      const v = await validateJob(layout, claimOf('j.json', content({ repo: inside, task: 't' })));
      expect(reasonOf(v), inside).toBe('policy');
    }
  });

  it('passes the parse rejection through', async () => {
    const v = await validateJob(layout, claimOf('bad name.json', content({ repo, task: 't' })));
    expect(reasonOf(v)).toBe('bad_name');
  });

  it('repo missing → repo_missing', async () => {
    const v = await validateJob(layout, claimOf('j.json', content({ repo: join(tmp, 'nope'), task: 't' })));
    expect(reasonOf(v)).toBe('repo_missing');
  });

  it('repo is a file → repo_missing', async () => {
    const file = join(tmp, 'file');
    await writeFile(file, 'x');
    expect(reasonOf(await validateJob(layout, claimOf('j.json', content({ repo: file, task: 't' }))))).toBe('repo_missing');
  });

  it('unreadable content → unreadable, with the reason in the message', async () => {
    const v = await validateJob(layout, claimOf('j.json', { kind: 'unreadable', why: 'not a regular file (FIFO)' }));
    expect(reasonOf(v)).toBe('unreadable');
    if (v.kind === 'reject') {
      expect(v.error.message).toContain('FIFO');
      expect(v.error.job_file).toBe('j.json');
    }
  });

  it('content over the size limit → policy, naming the rule, the size and the limit', async () => {
    const v = await validateJob(layout, claimOf('j.json', { kind: 'too_large', size: 300_000, limit: 262_144 }));
    expect(reasonOf(v)).toBe('policy');
    if (v.kind === 'reject') expect(v.error.message).toBe('job file of 300000 bytes is over policy.max_job_bytes 262144');
  });

  it('resume by UUID: the session, lower-cased', async () => {
    const v = await validateJob(layout, claimOf('j.json', content({ repo, task: 't', resume: SESSION.toUpperCase() })));
    expect(v).toMatchObject({ kind: 'ok', resumeSession: SESSION });
  });

  it('resume by a job id in done/ → its result.session_id', async () => {
    await writeFile(layout.job('done', 'first'), JSON.stringify(finished(SESSION)));
    const v = await validateJob(layout, claimOf('second.json', content({ repo, task: 't', resume: 'first' })));
    expect(v).toMatchObject({ kind: 'ok', job: { repo, task: 't', resume: 'first' }, resumeSession: SESSION });
  });

  it('resume by a job id in failed/ → its result.session_id', async () => {
    await writeFile(layout.job('failed', 'first'), JSON.stringify(finished(SESSION)));
    const v = await validateJob(layout, claimOf('second.json', content({ repo, task: 't', resume: 'first' })));
    expect(v).toMatchObject({ kind: 'ok', resumeSession: SESSION });
  });

  it('resume by a finished job without a session id → unknown_resume', async () => {
    await writeFile(layout.job('failed', 'first'), JSON.stringify(finished(null)));
    const v = await validateJob(layout, claimOf('second.json', content({ repo, task: 't', resume: 'first' })));
    expect(reasonOf(v)).toBe('unknown_resume');
  });

  it('resume by a job still in inbox/, deferred/ or active/ → wait on it', async () => {
    await writeFile(layout.job('inbox', 'first'), JSON.stringify({ repo, task: 'earlier' }));
    expect(await validateJob(layout, claimOf('second.json', content({ repo, task: 't', resume: 'first' })))).toMatchObject({
      kind: 'wait',
      on: 'first',
    });
    await writeFile(layout.job('active', 'other'), JSON.stringify({ repo, task: 'earlier' }));
    expect(await validateJob(layout, claimOf('third.json', content({ repo, task: 't', resume: 'other' })))).toMatchObject({
      kind: 'wait',
      on: 'other',
    });
    await writeFile(
      layout.job('deferred', 'later'),
      JSON.stringify({ repo, task: 'x', queued_at: 1, attempts: 0, not_before: '2099-01-01T00:00:00Z' }),
    );
    expect(await validateJob(layout, claimOf('fourth.json', content({ repo, task: 't', resume: 'later' })))).toMatchObject({
      kind: 'wait',
      on: 'later',
    });
  });

  it('a resume cycle, or a wait on one, is rejected naming the cycle', async () => {
    await writeFile(layout.job('inbox', 'a'), JSON.stringify({ repo, task: 't', resume: 'b' }));
    const v = await validateJob(layout, claimOf('b.json', content({ repo, task: 't', resume: 'a' })));
    expect(reasonOf(v)).toBe('unknown_resume');
    if (v.kind === 'reject') expect(v.error.message).toContain('b → a → b');
    await writeFile(layout.job('inbox', 'c'), JSON.stringify({ repo, task: 't', resume: 'a' }));
    await writeFile(layout.job('deferred', 'b'), JSON.stringify({ repo, task: 't', resume: 'a', queued_at: 1, attempts: 0 }));
    expect(reasonOf(await validateJob(layout, claimOf('d.json', content({ repo, task: 't', resume: 'c' }))))).toBe('unknown_resume');
  });

  it('resume of an unknown target (or one that was only rejected) → unknown_resume', async () => {
    expect(reasonOf(await validateJob(layout, claimOf('j.json', content({ repo, task: 't', resume: 'ghost' }))))).toBe('unknown_resume');
    await writeFile(layout.job('rejected', 'ghost'), '{}');
    expect(reasonOf(await validateJob(layout, claimOf('j.json', content({ repo, task: 't', resume: 'ghost' }))))).toBe('unknown_resume');
  });

  it('the id of a done job, or a claim that found its id taken → duplicate_id', async () => {
    await writeFile(layout.job('done', 'dup'), JSON.stringify(finished(SESSION)));
    const v = await validateJob(layout, claimOf('dup.json', content({ repo, task: 't' })));
    expect(reasonOf(v)).toBe('duplicate_id');
    if (v.kind === 'reject') expect(v.error.message).toContain('done');
    const taken = await validateJob(layout, claimOf('dup2.json', content({ repo, task: 't' }), 'inbox', 'deferred'));
    expect(reasonOf(taken)).toBe('duplicate_id');
    if (taken.kind === 'reject') expect(taken.error.message).toContain('deferred');
  });

  it('the id of an earlier rejected job is free to use again', async () => {
    await writeFile(layout.job('rejected', 'again'), 'garbage');
    expect((await validateJob(layout, claimOf('again.json', content({ repo, task: 't' })))).kind).toBe('ok');
  });

  // Known bug (see report): a job that resumes itself finds its own file in active/ and waits forever.
  it('a job whose resume names itself is rejected, not told to wait on itself', async () => {
    await writeFile(layout.job('active', 'self'), JSON.stringify({ repo, task: 't', resume: 'self' }));
    const v = await validateJob(layout, claimOf('self.json', content({ repo, task: 't', resume: 'self' })));
    expect(v.kind).toBe('reject');
  });

  // Known bug (see report): a corrupt done/<target>.json makes validateJob throw instead of rejecting.
  it('a resume target whose done/ record is not JSON gives a rejection, not an exception', async () => {
    await writeFile(layout.job('done', 'first'), '{"repo":');
    const v = await validateJob(layout, claimOf('second.json', content({ repo, task: 't', resume: 'first' })));
    expect(reasonOf(v)).toBe('unknown_resume');
  });
  const FOLLOWED_SESSION = '0199a213-81c0-7800-8aa1-bbab2a035a53';
  it('a follow-up by session id waits for the job in deferred/ continuing that session (found by its resume_session), never for itself in deferred/ by its resume_session, never the follow-up itself', async () => {
    const queued = { repo, task: 't', queued_at: 1, attempts: 1, resume_session: FOLLOWED_SESSION };
    await writeFile(layout.job('deferred', 'a'), JSON.stringify(queued));
    await writeFile(layout.job('deferred', 'b'), JSON.stringify({ ...queued, resume_session: undefined }));
    const v = await validateJob(layout, claimOf('b.json', content({ repo, task: 'more', resume: FOLLOWED_SESSION.toUpperCase() })));
    expect(v).toMatchObject({ kind: 'wait', on: 'a' });
    await rm(layout.job('deferred', 'a'));
    expect(await validateJob(layout, claimOf('b.json', content({ repo, task: 'more', resume: FOLLOWED_SESSION })))).toMatchObject({
      kind: 'ok',
    });
  });
});

describe('decideJob (pure: the rules the claim and submit share)', () => {
  const facts = (over: Partial<JobFacts> = {}): JobFacts => ({
    inDone: false,
    repo: { real: '/w/repo', owned: true },
    spoolRoot: '/w/root',
    argReachingRoot: null,
    resumeJob: null,
    inherited: null,
    sessionQueuedJob: null,
    ...over,
  });
  const decide = (job: object, f: JobFacts) => decideJob('j.json', 'j', { repo: '/w/repo', task: 't', ...job }, DEFAULT_POLICY, f);
  const kindOf = (d: ReturnType<typeof decideJob>) => (d.kind === 'reject' ? d.error.reason : d.kind);

  it('a follow-up by session id waits for a job queued again to continue that session (a retry goes first, in its place), else runs', () => {
    const session = '0199a213-81c0-7800-8aa1-bbab2a035a53';
    expect(decide({ resume: session }, facts({ sessionQueuedJob: 'a' }))).toEqual({ kind: 'wait', on: 'a' });
    expect(decide({ resume: session }, facts())).toMatchObject({ kind: 'ok', resumeSession: session });
  });

  it('a resume of a job waits exactly when the target is queued or running and no cycle runs through it', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(null, 'inbox', 'deferred', 'active', 'done', 'failed'),
        fc.boolean(),
        fc.option(fc.constant(SESSION)),
        (state, cycle, session) => {
          const d = decide(
            { resume: 'target' },
            facts({ resumeJob: { state: state as JobState | null, cycle: cycle ? ['j', 'target', 'j'] : null, session } }),
          );
          const queued = state === 'inbox' || state === 'deferred' || state === 'active';
          expect(d.kind === 'wait').toBe(queued && !cycle);
          if (state === null && !cycle) expect(kindOf(d)).toBe('unknown_resume');
          if ((state === 'done' || state === 'failed') && !cycle)
            expect(d).toEqual(
              session ? { kind: 'ok', repo: '/w/repo', resumeSession: session } : expect.objectContaining({ kind: 'reject' }),
            );
        },
      ),
    );
  });

  it('the first rule broken decides: id used by a done job, then repo, then policy, then argument directories, then resume', () => {
    const all = facts({ inDone: true, repo: null, argReachingRoot: '..' });
    expect(kindOf(decide({ sandbox: 'danger-full-access', resume: 'x' }, all))).toBe('duplicate_id');
    expect(kindOf(decide({ sandbox: 'danger-full-access', resume: 'x' }, { ...all, inDone: false }))).toBe('repo_missing');
    const withRepo = { ...all, inDone: false, repo: { real: '/w/repo', owned: true } };
    const policy = decide({ sandbox: 'danger-full-access', resume: 'x' }, withRepo);
    expect(policy.kind === 'reject' && policy.error).toMatchObject({
      reason: 'policy',
      message: expect.stringContaining('policy.sandboxes'),
    });
    const args = decide({ resume: 'x' }, withRepo);
    expect(args.kind === 'reject' && args.error.message).toBe('argument path .. reaches the codex-spool root /w/root');
    expect(kindOf(decide({ resume: 'x' }, { ...withRepo, argReachingRoot: null }))).toBe('unknown_resume');
    expect(decide({}, facts())).toEqual({ kind: 'ok', repo: '/w/repo', resumeSession: null });
  });

  it('a follow-up runs in the worktree it inherits, or is refused (repo_missing) when that worktree is gone; never waits on it', () => {
    const session = '0199a213-81c0-7800-8aa1-bbab2a035a53';
    const worktree = { path: '/w/root/spool/worktrees/a', branch: 'codex-spool/a' };
    const finished = { resumeJob: { state: 'done' as const, cycle: null, session } };
    for (const job of [{ resume: session }, { resume: 'a' }, { resume: 'a', resume_session: session }]) {
      const there = decide(job, facts({ ...finished, inherited: { job_id: 'a', worktree, exists: true } }));
      expect(there).toEqual({ kind: 'ok', repo: '/w/repo', resumeSession: session, worktree });
      const gone = decide(job, facts({ ...finished, inherited: { job_id: 'a', worktree, exists: false } }));
      expect(gone.kind === 'reject' && gone.error).toMatchObject({
        reason: 'repo_missing',
        message: `worktree ${worktree.path} of job "a" no longer exists`,
      });
    }
  });
});

describe('PartialQueuedJob (a job that cannot be handled is filed with what it said)', () => {
  it("takes any subset of a queued job's fields, a review job's included, and nothing else", () => {
    expect(PartialQueuedJob.safeParse({}).success).toBe(true);
    expect(PartialQueuedJob.safeParse({ repo: '/r', review: { uncommitted: true }, attempts: 2 }).success).toBe(true);
    expect(PartialQueuedJob.safeParse({ repo: '/r', task: 't', review: { uncommitted: true } }).success).toBe(true);
    expect(PartialQueuedJob.safeParse({ repo: '/r', result: {} }).success).toBe(false);
  });
});
