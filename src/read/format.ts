// Human lines for job facts: the status table and the one-line result of `wait`. Every field that comes
// from a job file, a file name or Codex is shown escaped (shownName, safeLine, oneLine). Pure.
import { basename } from 'node:path';
import { columns, formatDuration, oneLine, oneLineBytes, shownName } from './display.js';
import type { JobFacts } from './facts.js';
import { safeLine } from '../util/safe-text.js';

/** Queued or rejected: its age; running or finished: its run's elapsed time. */
function timeOf(f: JobFacts): string {
  return formatDuration(f.elapsed_seconds ?? f.age_seconds);
}

/** Longest status line: the note is cut to fit (never below NOTE_MIN characters). */
export const STATUS_LINE_BYTES = 100;
const NOTE_MIN = 24;

/** The status table: a header, then one aligned row per job (repo by its last path segment), each with its note; `stale` jobs so marked. */
export function statusTable(jobs: readonly JobFacts[], stale: ReadonlySet<string> = new Set(), now = Date.now()): string[] {
  const rows = jobs.map((f) => [
    shownName(f.id),
    f.state === 'active' && stale.has(f.id) ? 'stale' : f.state,
    timeOf(f),
    f.repo ? safeLine(basename(f.repo)) : '-',
    safeLine(f.session_id ?? '-'),
    f.exit_code === null ? '-' : String(f.exit_code),
  ]);
  // Each line padded up to the note's column (a last column of one character, taken off again).
  const padded = columns([['ID', 'STATE', 'TIME', 'REPO', 'SESSION', 'EXIT'], ...rows].map((r) => [...r, '.'])).map((l) => l.slice(0, -1));
  return padded.map((line, i) => {
    const text = i === 0 ? '' : note(jobs[i - 1]!, now);
    return text ? line + oneLineBytes(text, Math.max(NOTE_MIN, STATUS_LINE_BYTES - Buffer.byteLength(line))) : line.trimEnd();
  });
}

/**
 * What the state does not already say: a failed run's status other than `failed`, a rejection's reason,
 * why a job is queued again and when it runs, what a running Codex is doing.
 */
function note(f: JobFacts, now: number): string {
  switch (f.state) {
    case 'rejected':
      return f.reason ?? '';
    case 'active':
      return f.activity ?? '';
    case 'inbox':
    case 'deferred': {
      const due = f.not_before === null ? 0 : (Date.parse(f.not_before) - now) / 1000;
      const when = due > 0 ? `runs in ${formatDuration(due)}` : '';
      return [when, f.reason ?? ''].filter(Boolean).join(': ');
    }
    default:
      return f.status && f.status !== 'succeeded' && f.status !== 'failed' ? f.status : '';
  }
}

/**
 * One line per job for `wait`: `<id> <status or state> exit=<n> <time> <session> <message>`, the
 * message being the final message (else the error; for a job not finished, what it is doing or waits
 * for), on one line, at most `messageMax` characters.
 */
export function resultLine(f: JobFacts, messageMax = 200): string {
  const message =
    f.state === 'rejected' ? `${f.reason ?? 'rejected'}: ${f.error ?? ''}` : (f.final_message ?? f.error ?? f.activity ?? f.reason ?? '');
  const fields = [shownName(f.id), f.status ?? f.state, `exit=${f.exit_code ?? '-'}`, timeOf(f), safeLine(f.session_id ?? '-')];
  const text = oneLine(message, messageMax);
  return text ? `${fields.join(' ')} ${text}` : fields.join(' ');
}
