// The argv for one Codex run. Pure.
import type { JobSpec } from '../spool/schema.js';
import { reviewArgv } from './review.js';

interface CodexArgvInput {
  spec: Pick<JobSpec, 'repo' | 'model' | 'sandbox' | 'args' | 'review'>;
  /** The session to continue, or null for a new session (a review always starts one). */
  resumeSession: string | null;
  lastMessageFile: string;
}

/**
 * `codex exec --json --cd REPO [-m M] [-s S] [args…] -o FILE [resume UUID] -`.
 * The task is not in it: `-` makes Codex read the prompt from stdin (both `exec` and `exec resume` do,
 * checked on 0.169.0), so a long task cannot overflow the command line (E2BIG) and no other user reads
 * it in `ps`; argv is recorded in meta.json, which stays small too.
 * `exec resume` has no --cd or -s of its own: exec-level options go before `resume` (Codex applies
 * them to the resumed turn, which runs in --cd, not in the session's recorded directory).
 * A review job ends in `review --uncommitted | --base B | --commit SHA` instead of the prompt: Codex refuses a
 * prompt beside a target. It runs read-only unless the job sets a sandbox: a review reads, it never writes.
 */
export function codexArgv({ spec, resumeSession, lastMessageFile }: CodexArgvInput): string[] {
  const argv = ['exec', '--json', '--cd', spec.repo];
  if (spec.model) argv.push('-m', spec.model);
  const sandbox = spec.sandbox ?? (spec.review ? 'read-only' : undefined);
  if (sandbox) argv.push('-s', sandbox);
  argv.push(...(spec.args ?? []), '-o', lastMessageFile);
  if (spec.review) return [...argv, ...reviewArgv(spec.review)];
  if (resumeSession) argv.push('resume', resumeSession);
  argv.push('-');
  return argv;
}
