// Transitions a user asks for by hand: cancel a queued job, retry a failed one.
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { createFileAtomic } from './atomic-file.js';
import { JobSpec } from './job-schema.js';
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
  const parsed = claim.content.kind === 'bytes' ? parseJob(claim.name, claim.content.bytes) : null;
  const spec: Partial<JobSpec> = parsed?.kind === 'ok' ? parsed.spec : {};
  const record = recordWithoutRun(spec, { status: 'cancelled', error: 'cancelled by the user before it ran' });
  await finishJob(layout, claim, 'failed', record);
  return true;
}

/** The job a retry queues: the failed job as submitted, one more attempt counted. Pure. */
export function retrySpec(record: Record<string, unknown>): JobSpec {
  const { result: _result, run_id: _runId, ...rest } = record;
  const spec = JobSpec.parse(rest);
  return { ...spec, attempts: (spec.attempts ?? 0) + 1 };
}

/**
 * retry: failed/<id>.json → a new inbox/<id>.json (attempts + 1). The failed record is then moved aside
 * as a dotfile in failed/ (kept, never deleted), so that `wait` and `status` see only the new run.
 */
export async function retryJob(layout: SpoolLayout, id: string, record: Record<string, unknown>): Promise<JobSpec> {
  const spec = retrySpec(record);
  await createFileAtomic(layout.job('inbox', id), `${JSON.stringify(spec)}\n`);
  await rename(layout.job('failed', id), join(layout.dir('failed'), `.${id}.json.${Date.now()}.retried`));
  return spec;
}
