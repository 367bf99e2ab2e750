// Recovering jobs left in active/ by a worker that died or shut down: never lost, never run twice at once,
// and a run that had ended is filed, not run again.
import { lstat, readdir } from 'node:fs/promises';
import { writeJsonAtomic } from '../spool/atomic-file.js';
import { parseJsonOrNull } from '../util/json-text.js';
import { emptyDigest, foldEventLine } from '../codex/events.js';
import { readTail } from '../util/file-tail.js';
import { ActiveJob, QueuedJob, StoredJob, type RunSummary, type RunFiles, type RunMeta } from '../spool/schema.js';
import { buildSummary } from '../codex/summary.js';
import { isEnded, recordFromSummary, recordWithoutRun } from './finished-job.js';
import { worktreeAt } from '../codex/worktree.js';
import { isLocked } from '../spool/lock.js';
import { isRunAlive, stopOrphanGroup, type CodexRunOutcome } from '../codex/runner.js';
import { aliveElseFenced, serverNow } from '../codex/liveness.js';
import { MAX_ATTEMPTS, nextAttempt, queuedAgain } from './retry-policy.js';
import { readLastMessage, readMeta, readSummary, runFiles, writeMeta } from '../spool/run-files.js';
import { cancelRequested } from '../spool/cancel-request.js';
import { ClaimLostError, dropJob, finishJob, isSecondName, requeueJob, returnJob, takeOverJob, type Claim } from '../spool/moves.js';
import { isJobFileName, type SpoolLayout } from '../spool/layout.js';
import { ifMissing } from '../util/errors.js';
import { readJson } from '../spool/json-file.js';
import { rejectUnreadable } from '../spool/validation.js';

/** How much of the end of events.jsonl recovery reads to learn whether a run completed. */
const EVENTS_TAIL_BYTES = 4 * 1024 * 1024;

interface RecoveryContext {
  layout: SpoolLayout;
  graceMs: number;
  /** The first backoff of a transient failure's retry (the worker's --retry-delay-ms). */
  retryBaseMs: number;
  log(line: string): void;
  /** A job whose recovery failed: the worker pauses it, and fails it after repeated failures. */
  setBack?(name: string, err: Error): void;
  /** The job is paused after failed recoveries: not tried this pass. */
  paused?(name: string): boolean;
  /** A recovered job was filed as failed or rejected (`--once` counts it in its exit code). */
  unsuccessful?(): void;
}

/** What became of a recovered job, and whether it ended failed or rejected. */
interface Recovered {
  what: string;
  unsuccessful?: true;
}

/**
 * Finds active jobs whose owner is gone and recovers each; returns how many it recovered. One job's
 * error (an unreadable file, a full disk) is logged and never stops the others: it is tried again next pass.
 */
export async function recoverOrphans(ctx: RecoveryContext): Promise<number> {
  let recovered = 0;
  for (const name of await readdir(ctx.layout.dir('active'))) {
    if (!isJobFileName(name) || ctx.paused?.(name)) continue;
    try {
      if (await isLocked(ctx.layout.dir('active'), name)) continue;
      const claim = await takeOverJob(ctx.layout, name);
      if (!claim) continue;
      try {
        const r = await recoverJob(ctx, claim);
        if (r === null) continue; // its Codex runs on another host: left in active/, looked at next pass
        ctx.log(`recovered ${claim.id}: ${r.what}`);
        if (r.unsuccessful) ctx.unsuccessful?.();
        recovered++;
      } finally {
        await claim.release(); // a no-op when the job moved on; else the lock is not kept by a failed pass
      }
    } catch (err) {
      // Paused past the stale time mid-recovery: another worker may own the job now; nothing was touched.
      if (err instanceof ClaimLostError) ctx.log(`${err.message}; left to its new owner or the next pass`);
      else if (ctx.setBack) ctx.setBack(name, err as Error);
      else ctx.log(`recovery of ${name} failed (tried again next pass): ${(err as Error).message}`);
    }
  }
  return recovered;
}

/**
 * recover: an orphaned active job, whose lock we now hold; returns what became of it, or null when it is
 * left as it is. A file that cannot be read (a FIFO, a link, a directory) → rejected. Already filed, or
 * still queued under a second name → drop this copy. Never started a run → back where it came from, bytes
 * unchanged. Its Codex still runs on another host → left in active/ (its
 * tree and session stay taken) until it ends. Its run had ended (summary written) → filed as that run
 * ended, or deferred as its worker would have (usage limit, transient fault). Else: stop what is left of
 * that run on this host, then queue it again to continue its session, one attempt counted; past
 * max_attempts, or cancelled by the user → failed with the reason.
 */
async function recoverJob(ctx: RecoveryContext, claim: Claim): Promise<Recovered | null> {
  const rejected = await rejectUnreadable(ctx.layout, claim); // no worker ever wrote it: what its claim would do
  if (rejected) return { what: `rejected: ${rejected.message}`, unsuccessful: true };
  const text = claim.content.kind === 'bytes' ? claim.content.bytes.toString('utf8') : '';
  const json = parseJsonOrNull(text);
  const active = ActiveJob.safeParse(json);
  const runId = active.success ? active.data.run_id : null;
  if ((await alreadyFiled(ctx.layout, claim.id, runId)) || (await queuedUnderAnotherName(ctx.layout, claim))) {
    await dropJob(claim);
    return { what: 'already filed or queued; active copy removed' };
  }
  if (!active.success) {
    // Claimed but never run: a worker's queued job goes back to deferred/, a fresh one to the inbox.
    const to = QueuedJob.safeParse(json).success ? 'deferred' : 'inbox';
    await returnJob(ctx.layout, claim, to);
    return { what: `back to ${to} unchanged` };
  }
  const { run_id: _run, ...job } = active.data;
  const files = runFiles(ctx.layout.runs, active.data.run_id);
  const meta = await readMeta(files);
  // This host's Codex is stopped; another host's (or one not yet in meta) is seen only by its alive file, and
  // one not started yet (its worker paused before the spawn) is fenced: it never will be.
  if (meta && isRunAlive(meta)) await stopOrphanGroup(meta, ctx.graceMs);
  else if (await aliveElseFenced(files.dir, await serverNow(ctx.layout.runs))) return null;
  const summary = (await readSummary(files)) ?? (meta ? await summaryFromEvents(files, meta) : null);
  if (summary && isEnded(summary)) {
    await writeJsonAtomic(files.summary, summary).catch(() => undefined); // best effort: the filed result holds it
    // A usage limit or a transient fault goes back to deferred/, as its worker (killed after writing the
    // run's files, before it requeued the job) would have put it: it is not the job's failure.
    const next = nextAttempt(job, summary, new Date(), ctx.retryBaseMs);
    if (next) {
      await requeueJob(ctx.layout, claim, next.job);
      return { what: `its run had ended (${next.why}): queued again until ${next.notBefore.toISOString()}` };
    }
    const state = summary.status === 'succeeded' ? 'done' : 'failed';
    // Where it ran (its own or its parent's worktree) is named in its result, as when its worker files it.
    await finishJob(ctx.layout, claim, state, recordFromSummary(job, summary, worktreeAt(ctx.layout, summary.repo)));
    return { what: `its run had ended (${summary.status}): filed in ${state}/`, ...(state === 'failed' && { unsuccessful: true }) };
  }
  if (meta) await markInterrupted(files, meta);
  const attempts = job.attempts + 1;
  const session = meta?.session_id ?? job.resume_session ?? null;
  const cancelled = await cancelRequested(ctx.layout, claim.id, active.data.run_id);
  if (cancelled || attempts >= (job.max_attempts ?? MAX_ATTEMPTS)) {
    const why = cancelled ? 'cancelled by the user' : `gave up: the run was interrupted ${attempts} times (worker crash or shutdown)`;
    const record = recordWithoutRun(
      { ...job, attempts },
      { status: cancelled ? 'cancelled' : 'failed', error: why, runId: active.data.run_id, sessionId: session, summary: files.summary },
    );
    await finishJob(ctx.layout, claim, 'failed', record);
    return { what: why, unsuccessful: true };
  }
  await requeueJob(ctx.layout, claim, queuedAgain(job, attempts, session, 'recovered: its worker stopped without filing it'));
  return { what: `queued again${session ? ` to resume ${session}` : ''} (attempt ${attempts + 1})` };
}

/** A done or failed record of this very run (or, for a job that never ran, of the id) exists. */
async function alreadyFiled(layout: SpoolLayout, id: string, runId: string | null): Promise<boolean> {
  for (const state of ['done', 'failed'] as const) {
    const record = await readJson(layout.job(state, id), StoredJob);
    if (record === null) continue;
    const filedRun = record.result?.run_id ?? null;
    if (state === 'done' || filedRun === runId) return true;
  }
  return false;
}

/** A move that links the file into a queue before unlinking it was cut short: the queue's name is the job. */
async function queuedUnderAnotherName(layout: SpoolLayout, claim: Claim): Promise<boolean> {
  const here = await lstat(claim.path);
  for (const state of ['inbox', 'deferred'] as const) {
    const path = layout.job(state, claim.id);
    const there = await lstat(path).catch(ifMissing(null));
    // Gone meanwhile (claimed by another worker): not a second name of this file.
    if (there && (await isSecondName(claim.path, here, path, there, true).catch(ifMissing(false)))) return true;
  }
  return false;
}

/**
 * The summary of a run that completed its turn before its worker could file it (the worker died or was
 * paused at the end of the run, or the disk was full): read from the events Codex streamed to events.jsonl,
 * so that a run that succeeded is filed, not run again. Null when the events show no completed turn.
 */
async function summaryFromEvents(files: RunFiles, meta: RunMeta): Promise<RunSummary | null> {
  const digest = emptyDigest();
  let completed = false;
  for (const line of (await readTail(files.events, EVENTS_TAIL_BYTES)).split('\n')) {
    foldEventLine(digest, line);
    // The event's own top-level type: a tool call's raw JSON arguments may hold the same words anywhere else.
    const type = (parseJsonOrNull(line) as { type?: unknown } | null)?.type;
    if (type === 'turn.completed') completed = true;
    else if (type === 'turn.failed' || type === 'turn.started') completed = false;
  }
  if (!completed || digest.turnFailed) return null;
  const outcome: CodexRunOutcome = {
    exitCode: null,
    signal: null,
    timedOut: false,
    stalled: false,
    waitingForNetwork: null,
    stopped: false,
    cancelled: false,
    spawnError: null,
    fenced: false,
    digest,
  };
  const summary = buildSummary({ meta, outcome, files, lastMessage: await readLastMessage(files), endedAt: new Date() });
  return { ...summary, status: 'succeeded' }; // its exit code is unknown (null): its events say it completed
}

/** The run's meta says how it ended: interrupted (its job continues), not `running` for ever. */
async function markInterrupted(files: RunFiles, meta: RunMeta): Promise<void> {
  if (meta.status === 'running') await writeMeta(files, { ...meta, status: 'interrupted' }).catch(() => undefined); // a note only
}
