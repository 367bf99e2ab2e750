// Recovering jobs left in active/ by a worker that died or shut down: never lost, never run twice at once.
import { access, readdir, unlink } from 'node:fs/promises';
import { ActiveJob, JobSpec } from './job-schema.js';
import { recordWithoutRun } from './finished-record.js';
import { isLocked } from './claim-lock.js';
import { stopOrphanGroup } from './codex-runner.js';
import { readMeta, runFiles } from './run-files.js';
import { findJob, finishJob, requeueJob, takeOverJob, type Claim } from './spool-moves.js';
import { isJobFileName, type SpoolLayout } from './spool-layout.js';

/** How many runs a job gets before an interruption fails it. */
export const MAX_ATTEMPTS = 3;

/** The follow-up prompt of a job whose run was interrupted: the session holds what was done so far. */
export const INTERRUPTED_PREFIX = 'You were interrupted. Continue the task where you left off. The task was:\n\n';

export interface RecoveryContext {
  layout: SpoolLayout;
  graceMs: number;
  log(line: string): void;
}

/** Finds active jobs whose owner is gone and recovers each; returns how many it recovered. */
export async function recoverOrphans(ctx: RecoveryContext): Promise<number> {
  let recovered = 0;
  for (const name of await readdir(ctx.layout.dir('active'))) {
    if (!isJobFileName(name) || (await isLocked(ctx.layout.dir('active'), name))) continue;
    const claim = await takeOverJob(ctx.layout, name);
    if (claim) {
      await recoverJob(ctx, claim);
      recovered++;
    }
  }
  return recovered;
}

/**
 * recover: an orphaned active job, whose lock we now hold. Already finished → drop the active copy.
 * Never started a run → back to the inbox as it was. Had a run → stop what is left of that run, then
 * back to the inbox as a resume of its session (or as it was, without one), one attempt counted; past
 * max_attempts (default MAX_ATTEMPTS) → failed with the reason.
 */
async function recoverJob(ctx: RecoveryContext, claim: Claim): Promise<void> {
  if (await findJob(ctx.layout, claim.id, ['done', 'failed'])) {
    await unlink(claim.path); // the worker died between filing the result and removing this copy
    await claim.release();
    return;
  }
  const text = claim.content.kind === 'bytes' ? claim.content.bytes.toString('utf8') : '';
  const active = ActiveJob.safeParse(safeJson(text));
  if (!active.success) {
    await requeueJob(ctx.layout, claim); // claimed but not validated yet: the original bytes, unchanged
    ctx.log(`recovered ${claim.id}: back to inbox unchanged`);
    return;
  }
  const { run_id: runId, ...spec } = active.data;
  const files = runFiles(ctx.layout.runs, runId);
  const meta = await readMeta(files).catch(() => null);
  if (meta?.pid) await stopOrphanGroup(meta.pid, ctx.graceMs);
  const attempts = (spec.attempts ?? 0) + 1;
  const session = meta?.session_id ?? null;
  const cancelled = await access(ctx.layout.cancelRequest(claim.id)).then(() => true, () => false);
  if (cancelled || attempts >= (spec.max_attempts ?? MAX_ATTEMPTS)) {
    const why = cancelled ? 'cancelled by the user' : `gave up: the run was interrupted ${attempts} times (worker crash or shutdown)`;
    await finishJob(
      ctx.layout,
      claim,
      'failed',
      recordWithoutRun(
        { ...spec, attempts },
        { status: cancelled ? 'cancelled' : 'failed', error: why, runId, sessionId: session, summary: files.summary },
      ),
    );
    ctx.log(`recovered ${claim.id}: ${why}`);
    return;
  }
  await requeueJob(ctx.layout, claim, session ? asResume(spec, session, attempts) : { ...spec, attempts });
  ctx.log(`recovered ${claim.id}: re-queued${session ? ` as resume of ${session}` : ''} (attempt ${attempts + 1})`);
}

/** The job re-queued to continue its interrupted session. */
export function asResume(spec: JobSpec, session: string, attempts: number): JobSpec {
  const task = spec.task.startsWith(INTERRUPTED_PREFIX) ? spec.task : INTERRUPTED_PREFIX + spec.task;
  return JobSpec.parse({ ...spec, resume: session, task, attempts });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
