import { describe, expect, it } from 'vitest';
import { codexArgv } from '../../src/codex-args.js';

const SESSION = '01a2122a-e8ea-7501-90e5-337c8e7d20b8';

describe('codexArgv', () => {
  it('new session: exec --json --cd REPO -o FILE -- TASK', () => {
    expect(codexArgv({ spec: { repo: '/r', task: 'do it' }, resumeSession: null, lastMessageFile: '/runs/x/last.txt' })).toEqual([
      'exec', '--json', '--cd', '/r', '-o', '/runs/x/last.txt', '--', 'do it',
    ]);
  });

  it('new session with model, sandbox and args: options in order, job args before -o', () => {
    const argv = codexArgv({
      spec: { repo: '/r', task: 't', model: 'gpt-x', sandbox: 'workspace-write', args: ['-c', 'k=v', '--skip-git-repo-check'] },
      resumeSession: null,
      lastMessageFile: '/o',
    });
    expect(argv).toEqual([
      'exec', '--json', '--cd', '/r', '-m', 'gpt-x', '-s', 'workspace-write', '-c', 'k=v', '--skip-git-repo-check', '-o', '/o', '--', 't',
    ]);
    expect(argv).not.toContain('resume');
  });

  it('resume: every exec-level option (incl. -s, -m, --cd, -o) before `resume UUID`, `--` right before the task', () => {
    const argv = codexArgv({
      spec: { repo: '/r', task: 'go on', model: 'm1', sandbox: 'read-only', args: ['--foo'] },
      resumeSession: SESSION,
      lastMessageFile: '/o',
    });
    expect(argv).toEqual([
      'exec', '--json', '--cd', '/r', '-m', 'm1', '-s', 'read-only', '--foo', '-o', '/o', 'resume', SESSION, '--', 'go on',
    ]);
    const r = argv.indexOf('resume');
    for (const opt of ['--json', '--cd', '-m', '-s', '--foo', '-o']) expect(argv.indexOf(opt)).toBeLessThan(r);
    expect(argv[r + 1]).toBe(SESSION);
    expect(argv.at(-2)).toBe('--');
  });

  it('a task that starts with "-" stays after `--`, as one argument', () => {
    for (const resumeSession of [null, SESSION]) {
      const argv = codexArgv({ spec: { repo: '/r', task: '--help me -s now' }, resumeSession, lastMessageFile: '/o' });
      expect(argv.slice(-2)).toEqual(['--', '--help me -s now']);
      expect(argv.filter((a) => a === '--')).toHaveLength(1);
    }
  });

  it('an empty args array adds nothing', () => {
    expect(codexArgv({ spec: { repo: '/r', task: 't', args: [] }, resumeSession: null, lastMessageFile: '/o' })).toEqual([
      'exec', '--json', '--cd', '/r', '-o', '/o', '--', 't',
    ]);
  });

  it('does not mutate the spec args', () => {
    const args = ['--a'];
    codexArgv({ spec: { repo: '/r', task: 't', args }, resumeSession: SESSION, lastMessageFile: '/o' });
    expect(args).toEqual(['--a']);
  });
});
