// Transitions a user asks for by hand: cancel a queued job, retry a failed one.
import { join } from 'node:path';
import { createFileAtomic, renameDurable } from './atomic-file.js';
import { tryLock } from './claim-lock.js';
import { JobSpec, QueuedJob } from './job-schema.js';
import { recordWithoutRun } from './finished-record.js';
import { parseJob } from './job-validation.js';
import { claimJob, finishJob } from './spool-moves.js';
import type { SpoolLayout } from './spool-layout.js';

/**
 * cancel (queued): inbox|deferred → failed as `cancelled`, under the job's lock so that no worker can
 * claim it meanwhile. Returns false if a worker claimed it first (then cancel it as a running job).
 */
export async function cancelQueuedJob(layout: SpoolLayout, id: string, from: 'inbox' | 'deferred'): Promise<boolean> {
  const claim = await claimJob(layout, `${id}.json`, from);
  if (!claim) return false;
  if (claim.duplicateOf) {
    await claim.release();
    throw new Error(`job id "${id}" is used twice (spool/inbox and spool/${claim.duplicateOf}): the inbox copy will be rejected`);
  }
  const parsed = claim.content.kind === 'bytes' ? parseJob(claim.name, claim.content.bytes, from === 'inbox' ? JobSpec : QueuedJob) : null;
  const job: Partial<QueuedJob> = parsed?.kind === 'ok' ? parsed.spec : {};
  const record = recordWithoutRun(job, { status: 'cancelled', error: 'cancelled by the user before it ran' });
  await finishJob(layout, claim, 'failed', record);
  return true;
}

/** The job a retry queues: the failed job as submitted, queued now as a new round of attempts. Pure. */
export function retryJobOf(record: Record<string, unknown>, now: Date): QueuedJob {
  const { result: _result, run_id: _runId, not_before: _notBefore, resume_session: _session, ...rest } = record;
  return QueuedJob.parse({ ...rest, queued_at: now.getTime(), attempts: 0, reason: 'retry asked for' });
}

/**
 * retry: failed/<id>.json → deferred/<id>.json (queued by the worker's rules, due at once). Under the
 * job's lock, so that no worker runs it before the failed record is moved aside (a dotfile in failed/,
 * kept, never deleted) and `wait` and `status` see only the new run.
 */
export async function retryJob(layout: SpoolLayout, id: string, record: Record<string, unknown>): Promise<QueuedJob> {
  const job = retryJobOf(record, new Date());
  const release = await tryLock(layout.dir('active'), `${id}.json`, () => undefined);
  if (!release) throw new Error(`${id} is being handled by a worker right now: try again in a moment`);
  try {
    await createFileAtomic(layout.job('deferred', id), `${JSON.stringify(job)}\n`);
    await renameDurable(layout.job('failed', id), join(layout.dir('failed'), `.${id}.json.${Date.now()}.retried`));
  } finally {
    await release();
  }
  return job;
}
