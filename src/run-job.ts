// One claimed job, from validation to its final directory.
import { codexArgv } from './codex-args.js';
import { runCodex, type CodexRunOutcome } from './codex-runner.js';
import type { JobSpec, RunMeta } from './job-schema.js';
import { recordFromSummary, recordWithoutRun } from './finished-record.js';
import { ensureWorktree, type Worktree } from './git-worktree.js';
import { validateJob } from './job-validation.js';
import type { JobPolicy } from './job-policy.js';
import { createRunDir, newRunId, readLastMessage, runFiles, writeMeta } from './run-files.js';
import { buildSummary } from './run-summary.js';
import { nextAttempt } from './failure-kind.js';
import { runOnDone, type JobEnd } from './on-done.js';
import { writeJsonAtomic } from './atomic-file.js';
import { finishJob, recordRun, rejectJob, requeueJob, type Claim } from './spool-moves.js';
import type { SpoolLayout } from './spool-layout.js';

export interface RunJobContext {
  layout: SpoolLayout;
  codexBin: string;
  codexVersion: string | null;
  graceMs: number;
  /** The wall-clock limit of a job that sets no timeout_s. */
  defaultTimeoutMs: number;
  /** Longest silence from Codex (no JSON event) before the run counts as stalled. */
  stallMs: number;
  /** What a job may ask of Codex. */
  policy: JobPolicy;
  /** First backoff before a transient failure is retried (doubling each attempt). */
  retryBaseMs: number;
  /** Shell command run after each job ends (--on-done), or null. */
  onDone: string | null;
  /** Aborted on worker shutdown: running jobs are stopped and left in active/ for recovery. */
  shutdown: AbortSignal;
  log(line: string): void;
}

/** How a claimed job left this worker's hands. */
export type JobOutcome = 'done' | 'failed' | 'rejected' | 'requeued' | 'deferred' | 'interrupted';

/**
 * Validates a claimed job and, if it is sound, runs Codex for it and files the result.
 * `cancel` is aborted when the user cancels this job.
 */
export async function runClaimedJob(ctx: RunJobContext, claim: Claim, cancel: AbortSignal): Promise<JobOutcome> {
  const v = await validateJob(ctx.layout, claim.name, claim.content, ctx.policy);
  if (v.kind === 'reject') {
    const path = await rejectJob(ctx.layout, claim, v.error);
    ctx.log(`rejected ${claim.name}: ${v.error.message} (${path})`);
    await notify(ctx, { id: claim.id, state: 'rejected', status: 'rejected', sessionId: null, summary: null, jobFile: path });
    return 'rejected';
  }
  if (v.kind === 'wait') {
    await requeueJob(ctx.layout, claim); // its resume target is not finished yet
    return 'requeued';
  }
  return runValidJob(ctx, claim, cancel, v.spec, v.resumeSession);
}

async function runValidJob(
  ctx: RunJobContext,
  claim: Claim,
  cancel: AbortSignal,
  spec: JobSpec,
  resumeSession: string | null,
): Promise<JobOutcome> {
  const runId = newRunId();
  const files = runFiles(ctx.layout.runs, runId);
  await createRunDir(files);
  await recordRun(claim, spec, runId);
  let worktree: Worktree | null = null;
  try {
    if (spec.worktree) worktree = await ensureWorktree(ctx.layout, spec.repo, claim.id);
  } catch (err) {
    return fileUnrunnable(ctx, claim, spec, runId, err);
  }
  const workSpec = worktree ? { ...spec, repo: worktree.path } : spec;
  const argv = codexArgv({ spec: workSpec, resumeSession, lastMessageFile: files.last_message });
  const meta: RunMeta = {
    run_id: runId,
    job_id: claim.id,
    repo: spec.repo,
    task: spec.task,
    resumed_from: resumeSession,
    argv,
    codex_bin: ctx.codexBin,
    codex_version: ctx.codexVersion,
    pid: null,
    started_at: new Date().toISOString(),
    status: 'running',
    session_id: null,
  };
  // Meta writes are chained so that the last one written always holds everything known; updates that
  // come while a write waits its turn (pid and session id often arrive together) share that write.
  let metaWritten = writeMeta(files, meta);
  let queued: Promise<void> | null = null;
  const saveMeta = () =>
    (queued ??= metaWritten = metaWritten.then(() => {
      queued = null;
      return writeMeta(files, { ...meta });
    }));
  ctx.log(`started ${claim.id} run ${runId}${resumeSession ? ` resuming ${resumeSession}` : ''}`);

  let outcome: CodexRunOutcome;
  try {
    outcome = await runCodex({
      codexBin: ctx.codexBin,
      argv,
      prompt: workSpec.task,
      eventsFile: files.events,
      logFile: files.log,
      timeoutMs: spec.timeout_s === undefined ? ctx.defaultTimeoutMs : spec.timeout_s * 1000,
      stallMs: ctx.stallMs,
      graceMs: ctx.graceMs,
      stop: AbortSignal.any([ctx.shutdown, claim.lost]),
      cancel,
      onSpawn: (pid) => ((meta.pid = pid), saveMeta()),
      onSessionId: (id) => ((meta.session_id = id), saveMeta()),
    });
  } catch (err) {
    meta.status = 'failed';
    await saveMeta();
    return fileUnrunnable(ctx, claim, spec, runId, err);
  }
  const summary = buildSummary({ meta, outcome, files, lastMessage: await readLastMessage(files), endedAt: new Date() });
  await writeJsonAtomic(files.summary, summary);
  meta.status = summary.status;
  await saveMeta();

  if (outcome.stopped && !outcome.timedOut && !outcome.cancelled) {
    // Shutdown or a lost lock: not the job's fault. Leave it in active/ for recovery to continue.
    await claim.release();
    ctx.log(`interrupted ${claim.id} run ${runId}; left for recovery`);
    return 'interrupted';
  }
  const next = nextAttempt(spec, summary, new Date(), ctx.retryBaseMs);
  if (next) {
    await requeueJob(ctx.layout, claim, next.spec, 'deferred');
    ctx.log(`deferred ${claim.id} until ${next.notBefore.toISOString()}: ${next.why} (${summary.errors[0] ?? ''})`);
    return 'deferred';
  }
  const state = summary.status === 'succeeded' ? 'done' : 'failed';
  const path = await finishJob(ctx.layout, claim, state, recordFromSummary(spec, summary, worktree ?? undefined));
  ctx.log(`${state} ${claim.id} ${summary.status} exit=${summary.exit_code} ${summary.elapsed_seconds}s (${path})`);
  await notify(ctx, {
    id: claim.id,
    state,
    status: summary.status,
    sessionId: summary.session_id,
    summary: files.summary,
    jobFile: path,
  });
  return state;
}

/** A job whose run could not even start (no worktree, Codex not spawnable): failed, with the reason. */
async function fileUnrunnable(ctx: RunJobContext, claim: Claim, spec: JobSpec, runId: string, err: unknown): Promise<JobOutcome> {
  const error = err instanceof Error ? err.message : String(err);
  const path = await finishJob(ctx.layout, claim, 'failed', recordWithoutRun(spec, { status: 'failed', error, runId }));
  ctx.log(`failed ${claim.id}: ${error}`);
  await notify(ctx, { id: claim.id, state: 'failed', status: 'failed', sessionId: null, summary: null, jobFile: path });
  return 'failed';
}

function notify(ctx: RunJobContext, end: JobEnd): Promise<void> {
  return ctx.onDone ? runOnDone(ctx.onDone, end, ctx.log) : Promise.resolve();
}
