// The decisions of `codex-spool doctor`, apart from the I/O that gathers their facts (commands/doctor.ts). Pure.
import type { JobPolicy } from '../spool/policy.js';
import { safeLine } from '../util/safe-text.js';

/** `fail`: jobs cannot run until it is fixed; `warn`: worth knowing, jobs may still run. */
export interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  summary: string;
}

/** One line per check: `ok   codex: codex-cli 0.169.0`, `FAIL codex auth: …`; every value escaped. */
export function formatChecks(checks: readonly Check[]): string {
  const tag = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' } as const;
  return checks.map((c) => `${tag[c.status]} ${c.name}: ${safeLine(c.summary)}\n`).join('');
}

/**
 * inotify, which the worker watches the inbox with (one watch, one instance per worker; `wait` and
 * `logs -f` take a few more while they run). Limits this low only come from a deliberate setting.
 */
export function inotifyCheck(watches: number | null, instances: number | null): Check {
  const name = 'inotify';
  if (watches === null || instances === null)
    return { name, status: 'warn', summary: 'limits unreadable (not Linux?): the worker still rescans the inbox every 2 s' };
  const summary = `max_user_watches ${watches}, max_user_instances ${instances}`;
  return watches < 64 || instances < 8
    ? { name, status: 'warn', summary: `${summary}: low; raise them (sysctl fs.inotify.*), or run the worker with --poll` }
    : { name, status: 'ok', summary };
}

/** The systemd user unit, from what `systemctl --user show` says of it (null: not reachable). */
export function serviceCheck(unitPath: string | null, shown: Record<string, string> | null, root: string): Check {
  const name = 'service';
  if (unitPath === null) return { name, status: 'ok', summary: 'no systemd user unit installed (codex-spool install-service)' };
  if (shown === null) return { name, status: 'warn', summary: `${unitPath}: state unknown (systemctl --user not reachable)` };
  const state = `${shown.ActiveState ?? '?'}, ${shown.UnitFileState ?? '?'}`;
  const unitRoot = /(?:^| )CODEX_SPOOL_ROOT=(\S+)/.exec(shown.Environment ?? '')?.[1];
  if (unitRoot !== undefined && unitRoot !== root)
    return { name, status: 'warn', summary: `${unitPath} (${state}) serves another root: ${unitRoot}` };
  return { name, status: shown.ActiveState === 'active' ? 'ok' : 'warn', summary: `${unitPath}: ${state}` };
}

/** `systemctl show` output (`Key=value` lines) as a record. */
export function parseShow(text: string): Record<string, string> {
  return Object.fromEntries(
    text.split('\n').flatMap((l) => (l.includes('=') ? [[l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]] : [])),
  );
}

/**
 * The Claude Code hook: where it is installed, and which root it reads — `$CODEX_SPOOL_ROOT` if set, else
 * the package of the `codex-spool` it runs from PATH (`hookRoot` null: none on PATH).
 */
export function claudeHookCheck(installedIn: readonly string[], hookRoot: string | null, root: string): Check {
  const name = 'claude hook';
  if (installedIn.length === 0) return { name, status: 'ok', summary: 'not installed (codex-spool claude install)' };
  const where = `installed in ${installedIn.join(', ')}`;
  if (hookRoot === null) return { name, status: 'warn', summary: `${where}, but codex-spool is not on PATH: it cannot run` };
  return hookRoot === root
    ? { name, status: 'ok', summary: `${where}, reads this root` }
    : { name, status: 'warn', summary: `${where}, but reads another root: ${hookRoot}` };
}

/**
 * The root's job policy (`codex-spool.config.json`): what jobs may ask for, or why the worker and submit
 * refuse to run under it (`problem`: loadPolicy's error). Pure.
 */
export function policyCheck(policy: JobPolicy | null, problem: string | null): Check {
  if (!policy) return { name: 'policy', status: 'fail', summary: `${problem ?? 'unreadable'}: the worker and submit refuse it` };
  const repos = policy.repo_prefixes === null ? 'repos you own' : `repos under ${policy.repo_prefixes.join(', ')}`;
  return { name: 'policy', status: 'ok', summary: `sandboxes ${policy.sandboxes.join(', ')}; ${repos}` };
}
