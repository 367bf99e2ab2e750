import { describe, expect, it } from 'vitest';
import { codexArgv } from '../../src/codex/argv.js';

const SESSION = '01a2122a-e8ea-7501-90e5-337c8e7d20b8';

describe('codexArgv', () => {
  it('new session: exec --json --cd REPO -o FILE - (the prompt goes on stdin)', () => {
    expect(codexArgv({ spec: { repo: '/r' }, resumeSession: null, lastMessageFile: '/runs/x/last.txt' })).toEqual([
      'exec',
      '--json',
      '--cd',
      '/r',
      '-o',
      '/runs/x/last.txt',
      '-',
    ]);
  });

  it('new session with model, sandbox and args: options in order, job args before -o', () => {
    const argv = codexArgv({
      spec: { repo: '/r', model: 'gpt-x', sandbox: 'workspace-write', args: ['-c', 'k=v', '--skip-git-repo-check'] },
      resumeSession: null,
      lastMessageFile: '/o',
    });
    expect(argv).toEqual([
      'exec',
      '--json',
      '--cd',
      '/r',
      '-m',
      'gpt-x',
      '-s',
      'workspace-write',
      '-c',
      'k=v',
      '--skip-git-repo-check',
      '-o',
      '/o',
      '-',
    ]);
    expect(argv).not.toContain('resume');
  });

  it('resume: every exec-level option (incl. -s, -m, --cd, -o) before `resume UUID`, then `-`', () => {
    const argv = codexArgv({
      spec: { repo: '/r', model: 'm1', sandbox: 'read-only', args: ['--foo'] },
      resumeSession: SESSION,
      lastMessageFile: '/o',
    });
    expect(argv).toEqual(['exec', '--json', '--cd', '/r', '-m', 'm1', '-s', 'read-only', '--foo', '-o', '/o', 'resume', SESSION, '-']);
    const r = argv.indexOf('resume');
    for (const opt of ['--json', '--cd', '-m', '-s', '--foo', '-o']) expect(argv.indexOf(opt)).toBeLessThan(r);
    expect(argv[r + 1]).toBe(SESSION);
  });

  it('never carries the task, however long: it is passed on stdin', () => {
    const spec = { repo: '/r', task: `--help ${'x'.repeat(300_000)}` };
    for (const resumeSession of [null, SESSION]) {
      const argv = codexArgv({ spec, resumeSession, lastMessageFile: '/o' });
      expect(argv.at(-1)).toBe('-');
      expect(argv.join(' ')).not.toContain('--help');
      expect(argv.join(' ').length).toBeLessThan(200);
    }
  });

  it('an empty args array adds nothing', () => {
    expect(codexArgv({ spec: { repo: '/r', args: [] }, resumeSession: null, lastMessageFile: '/o' })).toEqual([
      'exec',
      '--json',
      '--cd',
      '/r',
      '-o',
      '/o',
      '-',
    ]);
  });

  it('does not mutate the spec args', () => {
    const args = ['--a'];
    codexArgv({ spec: { repo: '/r', args }, resumeSession: SESSION, lastMessageFile: '/o' });
    expect(args).toEqual(['--a']);
  });
});
