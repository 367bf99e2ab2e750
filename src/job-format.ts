// Human lines for job facts: the status table and the one-line result of `wait`. Every field that comes
// from a job file, a file name or Codex is shown escaped (shownName, safeLine, oneLine). Pure.
import { basename } from 'node:path';
import { columns, formatDuration, oneLine, shownName } from './display.js';
import type { JobFacts } from './job-facts.js';
import { safeLine } from './safe-text.js';

/** Queued or rejected: its age; running or finished: its run's elapsed time. */
export function timeOf(f: JobFacts): string {
  return formatDuration(f.elapsed_seconds ?? f.age_seconds);
}

/** The status table: a header, then one aligned row per job (repo by its last path segment); `stale` jobs so marked. */
export function statusTable(jobs: readonly JobFacts[], stale: ReadonlySet<string> = new Set()): string[] {
  const rows = jobs.map((f) => [
    shownName(f.id),
    f.state === 'active' && stale.has(f.id) ? 'stale' : f.state,
    timeOf(f),
    f.repo ? safeLine(basename(f.repo)) : '-',
    safeLine(f.session_id ?? '-'),
    f.exit_code === null ? '-' : String(f.exit_code),
    safeLine(note(f)),
  ]);
  return columns([['ID', 'STATE', 'TIME', 'REPO', 'SESSION', 'EXIT', ''], ...rows]);
}

/** What the state does not already say: a failed run's status other than `failed`, a rejection's reason. */
function note(f: JobFacts): string {
  if (f.state === 'rejected') return f.reason ?? '';
  return f.status && f.status !== 'succeeded' && f.status !== 'failed' ? f.status : '';
}

/**
 * One line per job for `wait`: `<id> <status or state> exit=<n> <time> <session> <message>`, the
 * message being the final message (else the error), on one line, at most `messageMax` characters.
 */
export function resultLine(f: JobFacts, messageMax = 200): string {
  const message = f.state === 'rejected' ? `${f.reason ?? 'rejected'}: ${f.error ?? ''}` : (f.final_message ?? f.error ?? '');
  const fields = [shownName(f.id), f.status ?? f.state, `exit=${f.exit_code ?? '-'}`, timeOf(f), safeLine(f.session_id ?? '-')];
  const text = oneLine(message, messageMax);
  return text ? `${fields.join(' ')} ${text}` : fields.join(' ');
}
