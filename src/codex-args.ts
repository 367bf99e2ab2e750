// The argv for one Codex run. Pure.
import type { JobSpec } from './job-schema.js';

export interface CodexArgvInput {
  spec: Pick<JobSpec, 'repo' | 'model' | 'sandbox' | 'args'>;
  /** The session to continue, or null for a new session. */
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
 */
export function codexArgv({ spec, resumeSession, lastMessageFile }: CodexArgvInput): string[] {
  const argv = ['exec', '--json', '--cd', spec.repo];
  if (spec.model) argv.push('-m', spec.model);
  if (spec.sandbox) argv.push('-s', spec.sandbox);
  argv.push(...(spec.args ?? []), '-o', lastMessageFile);
  if (resumeSession) argv.push('resume', resumeSession);
  argv.push('-');
  return argv;
}
