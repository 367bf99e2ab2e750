// The --on-done callback: a shell command run after each job ends, told about the job in its environment.
import { execa } from 'execa';

export interface JobEnd {
  id: string;
  /** Where the job ended: done, failed or rejected. */
  state: string;
  /** succeeded | failed | timed_out | cancelled, or rejected. */
  status: string;
  sessionId: string | null;
  summary: string | null;
  jobFile: string;
}

/** Runs `command` with the job's facts in CODEX_SPOOL_* variables; its failure is reported, never thrown. */
export async function runOnDone(command: string, end: JobEnd, log: (line: string) => void): Promise<void> {
  const result = await execa(command, {
    shell: true,
    stdin: 'ignore',
    reject: false,
    timeout: 60_000,
    env: {
      CODEX_SPOOL_JOB_ID: end.id,
      CODEX_SPOOL_STATE: end.state,
      CODEX_SPOOL_STATUS: end.status,
      CODEX_SPOOL_SESSION_ID: end.sessionId ?? '',
      CODEX_SPOOL_SUMMARY: end.summary ?? '',
      CODEX_SPOOL_JOB_FILE: end.jobFile,
    },
  });
  if (result.failed) log(`on-done for ${end.id} failed: ${result.shortMessage}`);
}
