import { describe, expect, it } from 'vitest';
import { codexVerdicts } from '../../src/doctor/codex.js';
import { claudeHookCheck, formatChecks, inotifyCheck, parseShow, serviceCheck } from '../../src/doctor/checks.js';

describe('codexVerdicts', () => {
  const check = (status: string, summary: string, remediation: string | null = null) => ({ status, summary, remediation });
  it('no credentials or a config that does not load fail; an unreachable provider or a missing check warns', () => {
    const verdicts = codexVerdicts({
      checks: {
        'auth.credentials': check('fail', 'no Codex credentials were found', 'Run codex login'),
        'config.load': check('ok', 'config loaded'),
        'system.disk': check('fail', 'not ours'),
      },
    });
    expect(verdicts).toEqual([
      { name: 'codex auth', status: 'fail', summary: 'no Codex credentials were found (Run codex login)' },
      { name: 'codex config', status: 'ok', summary: 'config loaded' },
      { name: 'model provider', status: 'warn', summary: 'not reported by this Codex' },
    ]);
    expect(codexVerdicts({ checks: { 'network.provider_reachability': check('fail', 'unreachable') } })[2]).toEqual({
      name: 'model provider',
      status: 'warn',
      summary: 'unreachable',
    });
    expect(codexVerdicts({ checks: { 'config.load': check('warning', 'odd key') } })[1]!.status).toBe('fail');
  });

  it('a Codex that gives no report: one warning, nothing fails', () => {
    expect(codexVerdicts({ error: 'no report' })).toEqual([{ name: 'codex doctor', status: 'warn', summary: 'no report' }]);
  });
});

describe('the other checks', () => {
  it('inotify: ok with usual limits, warns when very low or unreadable', () => {
    expect(inotifyCheck(8192, 128).status).toBe('ok');
    expect(inotifyCheck(10, 128).status).toBe('warn');
    expect(inotifyCheck(8192, 1).status).toBe('warn');
    expect(inotifyCheck(null, null).status).toBe('warn');
  });

  it('service: not installed is fine; inactive, unknown, or serving another root warns', () => {
    const shown = parseShow(
      'ActiveState=active\nUnitFileState=enabled\nEnvironment=CODEX_SPOOL_ROOT=/srv/cs CODEX_SPOOL_CODEX_BIN=/bin/codex PATH=/bin\n',
    );
    expect(serviceCheck(null, null, '/srv/cs').status).toBe('ok');
    expect(serviceCheck('/u/codex-spool.service', shown, '/srv/cs')).toEqual({
      name: 'service',
      status: 'ok',
      summary: '/u/codex-spool.service: active, enabled',
    });
    expect(serviceCheck('/u/codex-spool.service', shown, '/other')).toMatchObject({
      status: 'warn',
      summary: expect.stringMatching(/serves another root: \/srv\/cs$/),
    });
    expect(serviceCheck('/u/codex-spool.service', { ...shown, ActiveState: 'failed' }, '/srv/cs').status).toBe('warn');
    expect(serviceCheck('/u/codex-spool.service', null, '/srv/cs').status).toBe('warn');
  });

  it('claude hook: not installed is fine; not on PATH or another root warns', () => {
    expect(claudeHookCheck([], null, '/r').status).toBe('ok');
    expect(claudeHookCheck(['/h/.claude'], '/r', '/r')).toEqual({
      name: 'claude hook',
      status: 'ok',
      summary: 'installed in /h/.claude, reads this root',
    });
    expect(claudeHookCheck(['/h/.claude'], '/q', '/r').status).toBe('warn');
    expect(claudeHookCheck(['/h/.claude'], null, '/r').status).toBe('warn');
  });

  it('formatChecks: one line per check, its text escaped', () => {
    expect(
      formatChecks([
        { name: 'codex auth', status: 'fail', summary: 'no\ncredentials\u001b[2J' },
        { name: 'x', status: 'ok', summary: 'y' },
      ]),
    ).toBe('FAIL codex auth: no\\ncredentials\\x1b[2J\nok   x: y\n');
  });
});
