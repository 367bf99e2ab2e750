// Queueing one job from the command line (submit, resume) and the one short line (or JSON object) that
// tells the caller it is queued and where its result will be.
import { output } from '../util/output.js';
import { recordClaim } from '../claude/state.js';
import { loadPolicyOrFail } from './kit.js';
import { CliError, EXIT } from '../util/errors.js';
import { parseJobIdArg } from '../spool/lookup.js';
import { JobSpec, describeIssues } from '../spool/schema.js';
import { jobPrompt } from '../codex/review.js';
import { checkJob, rejectionLine } from '../spool/validation.js';
import { newRunId } from '../spool/run-files.js';
import { DuplicateIdError, submitJob } from '../spool/moves.js';
import { rootFlag, type SpoolLayout } from '../spool/layout.js';

/**
 * Bad input (exit 2) for a job the worker would reject, by the worker's own check and policy. A job it would
 * make wait (a resume of a job still queued or running) is accepted.
 */
async function refuseWhatTheWorkerWould(layout: SpoolLayout, id: string, spec: JobSpec): Promise<void> {
  const decision = await checkJob(layout, id, spec, await loadPolicyOrFail(layout.root));
  if (decision.kind === 'reject') throw new CliError(rejectionLine(decision.error), EXIT.usage);
}

export function queuedOutput(layout: SpoolLayout, id: string, json: boolean): string {
  // The line names the command, not the absolute result path: the id implies it, and every byte printed
  // to an agent is context it pays for.
  return json
    ? `${JSON.stringify({ id, state: 'inbox', result: layout.job('done', id), failed: layout.job('failed', id) })}\n`
    : `${id} queued; result: codex-spool result ${id}${rootFlag(layout.root)}\n`;
}

/**
 * Validates `fields` as a job, writes it to the inbox as `id` (default: a new time-sorted id) and prints the
 * queued line. Bad input: exit 2. Run from a Claude Code session, it also records the session's claim on the
 * job (claude/state.ts): the only way a job comes under that session's "Submitted from this session".
 */
export async function queueJob(layout: SpoolLayout, id: string | undefined, fields: Record<string, unknown>, json: boolean): Promise<void> {
  const jobId = parseJobIdArg(id ?? newRunId());
  const session = process.env.CLAUDE_CODE_SESSION_ID || undefined;
  const parsed = JobSpec.safeParse({ ...fields, claude_session: session });
  if (!parsed.success) {
    throw new CliError(describeIssues(parsed.error), EXIT.usage);
  }
  await refuseWhatTheWorkerWould(layout, jobId, parsed.data);
  try {
    await submitJob(layout, jobId, parsed.data);
  } catch (err) {
    throw err instanceof DuplicateIdError ? new CliError(rejectionLine({ reason: 'duplicate_id', message: err.message }), EXIT.usage) : err;
  }
  // After the job is queued, so that a claim only ever names an id this submit took.
  if (session) await recordClaim(layout.root, session, jobId, jobPrompt(parsed.data));
  output.out(queuedOutput(layout, jobId, json));
}
