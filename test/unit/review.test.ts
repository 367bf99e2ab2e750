// Review jobs: the schema's rules, the `--review` option, the argv and the words a run records.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codexArgv } from '../../src/codex/argv.js';
import { JobSpec, QueuedJob } from '../../src/spool/schema.js';
import { jobPrompt, parseReviewOption, reviewArgv } from '../../src/codex/review.js';

const repo = '/r';
const ok = (job: unknown) => JobSpec.safeParse(job).success;

describe('the review field', () => {
  it('a job has exactly one of task and review, in the inbox and when queued again', () => {
    expect(ok({ repo, task: 't' })).toBe(true);
    expect(ok({ repo, review: { uncommitted: true } })).toBe(true);
    expect(ok({ repo })).toBe(false);
    expect(ok({ repo, task: 't', review: { base: 'main' } })).toBe(false);
    expect(QueuedJob.safeParse({ repo, queued_at: 1, attempts: 0 }).success).toBe(false);
    expect(QueuedJob.safeParse({ repo, review: { commit: 'abc123' }, queued_at: 1, attempts: 0 }).success).toBe(true);
  });

  it('takes one target only, strictly, and refuses a resume and an uncommitted review in a new worktree', () => {
    for (const review of [
      {},
      { uncommitted: false },
      { base: 'main', commit: 'abc' },
      { base: 'main', x: 1 },
      { branch: 'main' },
      'uncommitted',
      true,
    ]) {
      expect(ok({ repo, review }), JSON.stringify(review)).toBe(false);
    }
    expect(ok({ repo, review: { base: 'main' }, resume: 'job-1' })).toBe(false);
    expect(ok({ repo, review: { uncommitted: true }, worktree: true })).toBe(false);
    expect(ok({ repo, review: { base: 'main' }, worktree: true })).toBe(true);
  });

  it('a revision is one argument that can never be read as an option (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom('base', 'commit'), fc.string({ maxLength: 40 }), (kind, rev) => {
        const valid = ok({ repo, review: { [kind]: rev } });
        const argSafe = rev.length > 0 && !rev.startsWith('-') && !/[\s\p{Cc}]/u.test(rev);
        expect(valid).toBe(argSafe);
        if (valid) expect(reviewArgv({ [kind]: rev } as never)).toEqual(['review', `--${kind}`, rev]);
      }),
    );
    for (const rev of ['main', 'origin/main', 'HEAD~2', 'v1.0^{}', '3f2a9c1e']) expect(ok({ repo, review: { base: rev } })).toBe(true);
    for (const rev of ['--help', '-x', 'a b', 'a\nb', '']) expect(ok({ repo, review: { commit: rev } })).toBe(false);
  });
});

describe('parseReviewOption', () => {
  it('reads uncommitted, base:BRANCH, commit:SHA; anything else is null', () => {
    expect(parseReviewOption('uncommitted')).toEqual({ uncommitted: true });
    expect(parseReviewOption('base:main')).toEqual({ base: 'main' });
    expect(parseReviewOption('commit:abc:def')).toEqual({ commit: 'abc:def' });
    for (const bad of ['', 'base', 'main', 'Uncommitted', 'branch:main']) expect(parseReviewOption(bad)).toBeNull();
  });
});

describe('codexArgv for a review', () => {
  it('exec-level options first, then the review target and no prompt; read-only unless the job sets a sandbox', () => {
    expect(codexArgv({ spec: { repo, review: { uncommitted: true } }, resumeSession: null, lastMessageFile: '/o' })).toEqual([
      'exec',
      '--json',
      '--cd',
      '/r',
      '-s',
      'read-only',
      '-o',
      '/o',
      'review',
      '--uncommitted',
    ]);
    expect(
      codexArgv({
        spec: { repo, review: { base: 'main' }, model: 'm', sandbox: 'workspace-write', args: ['-c', 'k=v'] },
        resumeSession: null,
        lastMessageFile: '/o',
      }),
    ).toEqual(['exec', '--json', '--cd', '/r', '-m', 'm', '-s', 'workspace-write', '-c', 'k=v', '-o', '/o', 'review', '--base', 'main']);
  });

  it('never resumes: a review starts a session of its own', () => {
    const argv = codexArgv({
      spec: { repo, review: { commit: 'abc' } },
      resumeSession: '01a2122a-e8ea-7501-90e5-337c8e7d20b8',
      lastMessageFile: '/o',
    });
    expect(argv).not.toContain('resume');
    expect(argv.slice(-3)).toEqual(['review', '--commit', 'abc']);
  });
});

describe('jobPrompt', () => {
  it("is the task, or the review's target in words", () => {
    expect(jobPrompt({ task: 'do it' })).toBe('do it');
    expect(jobPrompt({ review: { uncommitted: true } })).toBe('review: uncommitted changes');
    expect(jobPrompt({ review: { base: 'main' } })).toBe('review: changes against main');
    expect(jobPrompt({ review: { commit: 'abc' } })).toBe('review: commit abc');
  });
});
