// Submitting a parsed batch: each valid line once, ever. An id already anywhere in the spool is skipped,
// so the same batch can be submitted again and again (cron) and adds each job once.
import type { BatchEntry } from '../spool/batch.js';
import type { JobPolicy } from '../spool/policy.js';
import { checkJob, rejectionLine } from '../spool/validation.js';
import { DuplicateIdError, findJob, submitJob } from '../spool/moves.js';
import type { JobState, SpoolLayout } from '../spool/layout.js';

type BatchResult =
  | { line: number; id: string; status: 'submitted' }
  | { line: number; id: string; status: 'skipped'; state: JobState }
  | { line: number; id?: string; status: 'invalid'; error: string };

interface BatchReport {
  submitted: number;
  skipped: number;
  invalid: number;
  results: BatchResult[];
}

/** Submits the valid entries in order. Pre: the spool directories exist. */
export async function submitBatch(layout: SpoolLayout, entries: BatchEntry[], policy: JobPolicy): Promise<BatchReport> {
  const results: BatchResult[] = [];
  for (const entry of entries) {
    if ('error' in entry) {
      results.push({ ...entry, status: 'invalid' });
      continue;
    }
    const { line, id, spec } = entry;
    // Already there: skipped even if its repo has gone since (it ran, or will be rejected by the worker).
    const state = await findJob(layout, id);
    if (state) {
      results.push({ line, id, status: 'skipped', state });
      continue;
    }
    // What the worker would reject is refused here, by the worker's own check.
    const decision = await checkJob(layout, id, spec, policy);
    if (decision.kind === 'reject') {
      results.push({ line, id, status: 'invalid', error: rejectionLine(decision.error) });
      continue;
    }
    try {
      await submitJob(layout, id, spec);
      results.push({ line, id, status: 'submitted' });
    } catch (err) {
      if (!(err instanceof DuplicateIdError)) throw err;
      results.push({ line, id, status: 'skipped', state: err.state }); // another submitter won the race
    }
  }
  const count = (status: BatchResult['status']) => results.filter((r) => r.status === status).length;
  return { submitted: count('submitted'), skipped: count('skipped'), invalid: count('invalid'), results };
}

/** One line per entry not submitted cleanly, then the counts. */
export function formatBatchReport(report: BatchReport): string {
  const lines = report.results.flatMap((r) => {
    if (r.status === 'skipped') return [`line ${r.line}: ${r.id} skipped, already in spool/${r.state}`];
    if (r.status === 'invalid') return [`line ${r.line}: invalid${r.id ? ` (${r.id})` : ''}: ${r.error}`];
    return [];
  });
  lines.push(`submitted ${report.submitted}, skipped ${report.skipped} (already queued or done), invalid ${report.invalid}`);
  return `${lines.join('\n')}\n`;
}
