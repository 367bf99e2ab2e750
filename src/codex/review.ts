// Review jobs: a job's `review` as `codex exec review` arguments, as words, and from the command line. Pure.
import type { JobSpec, Review } from '../spool/schema.js';

/** `review --uncommitted` | `review --base B` | `review --commit SHA` (the subcommand takes no prompt beside a target). */
export function reviewArgv(review: Review): string[] {
  if ('base' in review) return ['review', '--base', review.base];
  if ('commit' in review) return ['review', '--commit', review.commit];
  return ['review', '--uncommitted'];
}

/** What a job asks of Codex in words: its task, or what it reviews. A run records it as its task. */
export function jobPrompt(job: Pick<JobSpec, 'task' | 'review'>): string {
  const r = job.review;
  if (job.task !== undefined || r === undefined) return job.task ?? '';
  return 'base' in r ? `review: changes against ${r.base}` : 'commit' in r ? `review: commit ${r.commit}` : 'review: uncommitted changes';
}

/** `uncommitted`, `base:BRANCH` or `commit:SHA` as a job's `review` field (the schema judges the revision), else null. */
export function parseReviewOption(text: string): Review | null {
  if (text === 'uncommitted') return { uncommitted: true };
  const m = /^(base|commit):(.*)$/s.exec(text);
  if (!m) return null;
  return m[1] === 'base' ? { base: m[2]! } : { commit: m[2]! };
}
