// Queueing one job from the command line (submit, resume) and the one short line (or JSON object) that
// tells the caller it is queued and where its result will be.
import { CliError, EXIT } from './cli-kit.js';
import { parseJobIdArg } from './job-lookup.js';
import { JobSpec } from './job-schema.js';
import { newRunId } from './run-files.js';
import { DuplicateIdError, submitJob } from './spool-moves.js';
import { ensureSpool, type SpoolLayout } from './spool-layout.js';

export function queuedOutput(layout: SpoolLayout, id: string, json: boolean): string {
  const result = layout.job('done', id);
  return json
    ? `${JSON.stringify({ id, state: 'inbox', result, failed: layout.job('failed', id) })}\n`
    : `${id} queued; result: ${result} (or spool/failed/)\n`;
}

/**
 * Validates `fields` as a job (recording the submitting Claude Code session, if any), writes it to the
 * inbox as `id` (default: a new time-sorted id) and prints the queued line. Bad input: exit 2.
 */
export async function queueJob(layout: SpoolLayout, id: string | undefined, fields: Record<string, unknown>, json: boolean): Promise<void> {
  const jobId = parseJobIdArg(id ?? newRunId());
  const parsed = JobSpec.safeParse({ ...fields, claude_session: process.env.CLAUDE_CODE_SESSION_ID || undefined });
  if (!parsed.success) {
    throw new CliError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), EXIT.usage);
  }
  await ensureSpool(layout);
  try {
    await submitJob(layout, jobId, parsed.data);
  } catch (err) {
    throw err instanceof DuplicateIdError ? new CliError(err.message) : err;
  }
  process.stdout.write(queuedOutput(layout, jobId, json));
}
