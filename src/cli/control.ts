// Transitions a user asks for by hand: cancel a queued job, retry a failed one.
import { lstat, unlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createFileAtomic, syncDir } from '../spool/atomic-file.js';
import { tryLock } from '../spool/lock.js';
import { JobResult, JobSpec, QueuedJob, jobFileText } from '../spool/schema.js';
import { recordWithoutRun } from '../worker/finished-job.js';
import { parseJob, rejectUnreadable } from '../spool/validation.js';
import { ClaimLostError, claimJob, finishJob } from '../spool/moves.js';
import type { SpoolLayout } from '../spool/layout.js';
import { findJobView, noSuchJob } from '../spool/lookup.js';
import { CliError, EXIT, ifMissing } from '../util/errors.js';

/**
 * cancel (queued): inbox|deferred → failed as `cancelled`, under the job's lock so that no worker can
 * claim it meanwhile. Returns false if a worker claimed it first or took the claim over (then cancel it as a running job), or if
 * its file could not be read (a FIFO, a link, a directory): then it is rejected, as the worker would.
 */
export async function cancelQueuedJob(layout: SpoolLayout, id: string, from: 'inbox' | 'deferred'): Promise<boolean> {
  const claim = await claimJob(layout, `${id}.json`, from);
  if (!claim) return false;
  if (claim.duplicateOf) {
    await claim.release();
    throw new Error(`job id "${id}" is used twice (spool/inbox and spool/${claim.duplicateOf}): the inbox copy will be rejected`);
  }
  try {
    if (await rejectUnreadable(layout, claim)) return false;
    const parsed =
      claim.content.kind === 'bytes' ? parseJob(claim.name, claim.content.bytes, from === 'inbox' ? JobSpec : QueuedJob) : null;
    const job: Partial<QueuedJob> = parsed?.kind === 'ok' ? parsed.spec : {};
    // A job queued again after a run keeps the session its next run would have continued: resume and retry go on with it.
    const record = recordWithoutRun(job, {
      status: 'cancelled',
      error: job.runs?.length ? 'cancelled by the user while queued again' : 'cancelled by the user before it ran',
      sessionId: job.resume_session ?? null,
    });
    await finishJob(layout, claim, 'failed', record);
    return true;
  } catch (err) {
    // Paused past the stale time after the claim: a worker took the job over and may run it, so it is
    // cancelled as whatever it is now, not left to run with the cancel ending in an error.
    if (err instanceof ClaimLostError) return false;
    throw err;
  }
}

/**
 * The job a retry queues: the failed job as submitted, queued now as a new round of attempts. It continues
 * the session its last run had (told it is a retry), else starts afresh. Its runs so far stay listed. Pure.
 */
export function retryJobOf(record: Record<string, unknown>, now: Date): QueuedJob {
  const { result, run_id: _runId, not_before: _notBefore, resume_session: _session, retry_of: _retry, ...rest } = record;
  const ended = JobResult.safeParse(result);
  const session = ended.success ? ended.data.session_id : null;
  return QueuedJob.parse({
    ...rest,
    queued_at: now.getTime(),
    attempts: 0,
    reason: 'retry asked for',
    ...(session && ended.success ? { resume_session: session, retry_of: ended.data.status } : {}),
  });
}

/** How long retry waits for a worker that has just filed the job to let go of its lock. */
const RETRY_LOCK_WAIT_MS = 5_000;

/**
 * retry: failed/<id>.json → deferred/<id>.json (queued by the worker's rules, due at once). Under the
 * job's lock, so that no worker runs it before the failed record is gone and `wait` and `status` see only
 * the new run. The record's runs stay in runs/ and in the job's `runs`: nothing else of it is lost.
 */
export async function retryJob(layout: SpoolLayout, id: string): Promise<QueuedJob> {
  await failedRecord(layout, id); // what cannot be retried is told at once, not after a wait for the lock
  // A worker files a job before it lets go of its lock: `wait ID && retry ID` may come in between.
  let lock = await tryLock(layout.dir('active'), `${id}.json`, () => undefined);
  for (let waited = 0; !lock && waited < RETRY_LOCK_WAIT_MS; waited += 100) {
    await sleep(100);
    lock = await tryLock(layout.dir('active'), `${id}.json`, () => undefined);
  }
  const busy = () => new Error(`${id} is being handled by a worker right now: try again in a moment`);
  if (!lock) throw busy();
  try {
    if (!(await lock.held())) throw busy(); // paused past the stale time since it was taken
    // Read again under the lock: the record read before it may have been retried, run and filed again since
    // (another retry, while this one was paused), and queuing it would run the job again beside its new file.
    const failed = layout.job('failed', id);
    const job = retryJobOf(await failedRecord(layout, id), new Date());
    const before = await lstat(failed).catch(ifMissing(null));
    await createFileAtomic(layout.job('deferred', id), jobFileText(job));
    // Only the record retried goes: paused past the stale time once the job was queued, this retry may find it
    // already run and filed again under the same name by a worker, and that new record is the job's result.
    if (sameFile(before, await lstat(failed).catch(ifMissing(null)))) await unlink(failed);
    await syncDir(dirname(failed));
    return job;
  } finally {
    await lock.release();
  }
}

/** `now` is the file `then` was: not replaced since (a rename over it gives another inode and a later change time). */
const sameFile = (then: Stats | null, now: Stats | null) =>
  then !== null && now !== null && now.ino === then.ino && now.dev === then.dev && now.ctimeMs === then.ctimeMs;

/** The record of failed job `id`; else the error that says why it cannot be retried (exit 3 unknown, 2 not failed). */
async function failedRecord(layout: SpoolLayout, id: string): Promise<Record<string, unknown>> {
  const job = await findJobView(layout, id);
  if (!job) throw noSuchJob([id]);
  if (job.state !== 'failed') throw new CliError(`${id} is in spool/${job.state}: only failed jobs can be retried`, EXIT.usage);
  if (!job.record)
    throw new CliError(`${id}: spool/failed/${id}.json is no job record (not a regular JSON file): nothing to retry`, EXIT.usage);
  return job.record;
}
