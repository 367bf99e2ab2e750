// A batch of jobs as JSON Lines: one job object a line, with its `id` beside the job fields (pure).
import { JobId, JobSpec, describeIssues } from './schema.js';

/** A line that is a valid job, or the reason it is not. `line` counts from 1; blank lines are skipped. */
export type BatchEntry = { line: number; id: string; spec: JobSpec } | { line: number; id?: string; error: string };

/**
 * Parses a batch: each non-blank line must be a JSON object with a valid `id` (after its placeholders are
 * filled for `now`, see expandId) and valid job fields.
 */
export function parseBatch(text: string, now = new Date()): BatchEntry[] {
  const entries: BatchEntry[] = [];
  const firstLineOf = new Map<string, number>();
  text
    .replace(/^\uFEFF/, '')
    .split('\n')
    .forEach((raw, i) => {
      const line = i + 1;
      const source = raw.replace(/\r$/, '');
      if (source.trim() === '') return;
      const entry = parseLine(source, line, now);
      if ('spec' in entry) {
        const first = firstLineOf.get(entry.id);
        if (first !== undefined) {
          entries.push({ line, id: entry.id, error: `id "${entry.id}" is also on line ${first}` });
          return;
        }
        firstLineOf.set(entry.id, line);
      }
      entries.push(entry);
    });
  return entries;
}

function parseLine(source: string, line: number, now: Date): BatchEntry {
  let json: unknown;
  try {
    json = JSON.parse(source);
  } catch (err) {
    return { line, error: `not JSON (${(err as Error).message})` };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { line, error: 'not a JSON object' };
  const { id, ...fields } = json as Record<string, unknown>;
  if (id === undefined) return { line, error: 'missing "id"' };
  const expanded = typeof id === 'string' ? expandId(id, now) : { id };
  if ('error' in expanded) return { line, error: `id: ${expanded.error}` };
  const idParse = JobId.safeParse(expanded.id);
  if (!idParse.success) return { line, error: `id: ${idParse.error.issues[0]?.message ?? 'invalid'}` };
  const spec = JobSpec.safeParse(fields);
  if (!spec.success) return { line, id: idParse.data, error: describeIssues(spec.error) };
  return { line, id: idParse.data, spec: spec.data };
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** The placeholders an id may hold, filled in local time (as cron reads its schedule). */
const PLACEHOLDERS: Record<string, (d: Date) => string> = {
  date: (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`,
  time: (d) => `${pad(d.getHours())}${pad(d.getMinutes())}`,
};

/**
 * Fills `{date}` (YYYY-MM-DD) and `{time}` (HHMM) in a batch id: `nightly-{date}` is a new job each day,
 * so a batch submitted every few minutes still runs it once per period (an id already used is skipped).
 */
export function expandId(template: string, now: Date): { id: string } | { error: string } {
  const unknown = [...template.matchAll(/\{([^}]*)\}/g)].find((m) => !Object.hasOwn(PLACEHOLDERS, m[1]!));
  if (unknown) return { error: `unknown placeholder ${unknown[0]} (known: {date}, {time})` };
  return { id: template.replace(/\{(date|time)\}/g, (_, name: string) => PLACEHOLDERS[name]!(now)) };
}
