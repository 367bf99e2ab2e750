// The argv for one Codex run. Pure.
import type { JobSpec } from './job-schema.js';

export interface CodexArgvInput {
  spec: Pick<JobSpec, 'repo' | 'task' | 'model' | 'sandbox' | 'args'>;
  /** The session to continue, or null for a new session. */
  resumeSession: string | null;
  lastMessageFile: string;
}

/**
 * `codex exec --json --cd REPO [-m M] [-s S] [args…] -o FILE [resume UUID] -- TASK`.
 * `exec resume` has no --cd and no -s of its own: exec-level options go before `resume`,
 * and the sandbox of a resumed turn is set with `-c sandbox_mode=…`.
 */
export function codexArgv({ spec, resumeSession, lastMessageFile }: CodexArgvInput): string[] {
  const argv = ['exec', '--json', '--cd', spec.repo];
  if (spec.model) argv.push('-m', spec.model);
  if (spec.sandbox) {
    argv.push(...(resumeSession ? ['-c', `sandbox_mode="${spec.sandbox}"`] : ['-s', spec.sandbox]));
  }
  argv.push(...(spec.args ?? []), '-o', lastMessageFile);
  if (resumeSession) argv.push('resume', resumeSession);
  // `--` keeps a task that starts with "-" from being read as an option.
  argv.push('--', spec.task);
  return argv;
}
