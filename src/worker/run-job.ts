// One claimed job, from validation to its final directory.
import { setTimeout as sleep } from 'node:timers/promises';
import { codexArgv } from '../codex/argv.js';
import { jobPrompt } from '../codex/review.js';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isRunAlive, runCodex, type CodexRunOutcome } from '../codex/runner.js';
import { aliveElseFenced, aliveFile, markAlive, serverNow } from '../codex/liveness.js';
import { ActiveJob, type QueuedJob, type RunMeta, type RunStatus, type RunSummary } from '../spool/schema.js';
import { isEnded, recordFromSummary, recordWithoutRun } from './finished-job.js';
import { changedSince, snapshotTree } from '../codex/git-changes.js';
import { ensureWorktree, type Worktree } from '../codex/worktree.js';
import { validateJob } from '../spool/validation.js';
import type { JobPolicy } from '../spool/policy.js';
import { createRunDir, newRunId, readLastMessage, readMeta, runFiles, writeMeta } from '../spool/run-files.js';
import { buildSummary, decisiveError } from '../codex/summary.js';
import { MAX_ATTEMPTS, nextAttempt, queuedAgain, retryDelayMs } from './retry-policy.js';
import { runOnDone, type JobEnd } from './on-done.js';
import { writeJsonAtomic, writeJsonFilesAtomic, type JsonFiles } from '../spool/atomic-file.js';
import { resourceLockName, tryLock } from '../spool/lock.js';
import { ClaimLostError, finishJob, recordRun, rejectJob, requeueJob, type Claim } from '../spool/moves.js';
import { isJobFileName, type SpoolLayout } from '../spool/layout.js';
import { readJson } from '../spool/json-file.js';

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
  /** Aborted on worker shutdown: running jobs are stopped and queued again. */
  shutdown: AbortSignal;
  /**
   * This worker's claimed jobs by the path of their file, each with its run's meta from when the run is prepared to its
   * Codex's end (null before and after): what liveRunOn knows of them without reading their files. The meta
   * object is the run's own, which learns the session id as the run goes.
   */
  ownRuns: Map<string, RunMeta | null>;
  log(line: string): void;
}

/** What the worker learns about a job it launched while it runs. */
export interface RunHooks {
  /** The job's working tree by its real path (null for a worktree job): what blocks other jobs. */
  onRepo(repo: string | null): void;
  /** The run that now holds the job: a cancel request names it. */
  onRun(runId: string): void;
}

/** How a claimed job left this worker's hands. */
type JobOutcome = 'done' | 'failed' | 'rejected' | 'requeued' | 'deferred' | 'interrupted';

/** The prompt of a run that continues its job's interrupted or failed session. */
export const CONTINUE_PREFIX = 'You were interrupted. Continue the task where you left off. The task was:\n\n';

/** The prompt of a run that continues its job's session after a `retry`. */
function retryPrefix(previous: RunStatus): string {
  const how = { succeeded: 'ended', failed: 'failed', timed_out: 'timed out', cancelled: 'was cancelled' }[previous];
  return `This is a retry: your previous run of this task ${how}. Continue the task where you left off. The task was:\n\n`;
}

/** What Codex is told: the task as submitted, after why its session goes on when it continues one (pure). */
export function runPrompt(job: QueuedJob): string {
  if (!job.resume_session || job.task === undefined) return jobPrompt(job);
  return (job.retry_of ? retryPrefix(job.retry_of) : CONTINUE_PREFIX) + job.task;
}

/** How long a job whose working tree (or resume target) turned out busy waits before it is looked at again. */
const REPO_BUSY_PAUSE_MS = 1_000;

/** Tries at filing a finished run before it is left to recovery (about a minute in all). */
const FILING_TRIES = 8;

/**
 * Validates a claimed job and, if it is sound and its working tree is free, runs Codex for it and files
 * the result. `cancel` is aborted when the user cancels this job.
 */
export async function runClaimedJob(ctx: RunJobContext, claim: Claim, cancel: AbortSignal, hooks: RunHooks): Promise<JobOutcome> {
  ctx.ownRuns.set(claim.path, null);
  try {
    return await runOwnJob(ctx, claim, cancel, hooks);
  } catch (err) {
    if (err instanceof ClaimLostError) return leftForRecovery(ctx, claim, err.when);
    throw err;
  } finally {
    ctx.ownRuns.delete(claim.path);
  }
}

async function runOwnJob(ctx: RunJobContext, claim: Claim, cancel: AbortSignal, hooks: RunHooks): Promise<JobOutcome> {
  const v = await validateJob(ctx.layout, claim, ctx.policy);
  if (v.kind === 'reject') {
    const path = await rejectJob(ctx.layout, claim, v.error);
    ctx.log(`rejected ${claim.id}: ${v.error.message} (${path})`);
    await notify(ctx, { id: claim.id, state: 'rejected', status: 'rejected', sessionId: null, summary: null, jobFile: path });
    return 'rejected';
  }
  if (v.kind === 'wait') {
    // Its resume target has not ended yet (the scan's check raced with a change): look again shortly.
    await requeueJob(ctx.layout, claim, {
      ...v.job,
      reason: `waiting for job ${v.on}`,
      not_before: new Date(Date.now() + REPO_BUSY_PAUSE_MS).toISOString(),
    });
    return 'requeued';
  }
  // A follow-up in an earlier job's worktree works in that tree: one Codex at a time there too.
  const repo = v.job.worktree ? null : (v.worktree?.path ?? v.repo);
  hooks.onRepo(repo);
  // One Codex per working tree (by real path: `/r`, `/r/.` and a link to it are one tree) and per session,
  // across all workers. The locks say who may start; a live Codex says who still runs: a worker paused past
  // the locks' stale time loses them, but its Codex, in a group of its own, goes on until recovery stops it.
  const held = await holdResources(ctx, { repo, session: v.resumeSession });
  // Released on every path, a throw included: this live worker would keep refreshing a lock it forgot, and
  // the working tree would stay blocked for good (found by fault injection: liveRunOn's readdir failing).
  try {
    if (!held || (await liveRunOn(ctx, { repo, session: v.resumeSession }, claim.path))) {
      await held?.();
      const reason = 'waiting for its repo or session (another run holds it)';
      await requeueJob(ctx.layout, claim, { ...v.job, reason, not_before: new Date(Date.now() + REPO_BUSY_PAUSE_MS).toISOString() });
      return 'requeued';
    }
    return await runValidJob(ctx, claim, cancel, hooks, v.job, v.repo, v.resumeSession, v.worktree ?? null);
  } finally {
    await held?.();
  }
}

/**
 * The locks of a run's working tree and of the session it resumes (each if any); their release (once is
 * enough: a second call does nothing), or null if one is taken. A lock that cannot be taken (a file-system
 * error) releases those already held before the error is thrown.
 */
async function holdResources(ctx: RunJobContext, on: { repo: string | null; session: string | null }) {
  const releases: (() => Promise<void>)[] = [];
  const releaseAll = async () => void (await Promise.all(releases.splice(0).map((r) => r())));
  try {
    for (const [kind, key] of [
      ['repo', on.repo],
      ['session', on.session],
    ] as const) {
      if (key === null) continue;
      const lock = await tryLock(ctx.layout.dir('active'), resourceLockName(kind, key), (err) =>
        ctx.log(`${kind} lock of ${key} lost: ${err.message}`),
      );
      if (!lock) {
        await releaseAll();
        return null;
      }
      releases.push(lock.release);
    }
  } catch (err) {
    await releaseAll();
    throw err;
  }
  return releaseAll;
}

async function runValidJob(
  ctx: RunJobContext,
  claim: Claim,
  cancel: AbortSignal,
  hooks: RunHooks,
  job: QueuedJob,
  repo: string,
  resumeSession: string | null,
  inherited: Worktree | null,
): Promise<JobOutcome> {
  const runId = newRunId();
  const files = runFiles(ctx.layout.runs, runId);
  const asQueued = job;
  if (!(await claim.held())) return leftForRecovery(ctx, claim, 'before its run');
  // git's view of the tree before the run, taken while the run's files are made (a worktree's once it exists).
  const treeOfRepo = job.worktree || inherited ? null : snapshotTree(repo);
  try {
    job = { ...job, runs: [...(job.runs ?? []), runId] }; // every run of the job stays readable
    // Recorded before runs/ is durable: a power loss that keeps the record and drops the directory leaves
    // a run that never started, which recovery queues again as it does one whose directory survived.
    await createRunDir(files, async () => {
      await markAlive(files.dir);
      await recordRun(claim, job, runId);
    });
  } catch (err) {
    return setBack(ctx, claim, asQueued, err); // runs/ or active/ not writable: nothing ran yet
  }
  hooks.onRun(runId);
  let worktree = inherited;
  try {
    if (job.worktree) worktree = await ensureWorktree(ctx.layout, repo, claim.id, (job.runs?.length ?? 0) > 1); // this run is listed
  } catch (err) {
    return fileUnrunnable(ctx, claim, job, runId, err);
  }
  const task = runPrompt(job);
  const argv = codexArgv({ spec: { ...job, repo: worktree?.path ?? repo }, resumeSession, lastMessageFile: files.last_message });
  const meta: RunMeta = {
    run_id: runId,
    job_id: claim.id,
    repo: worktree?.path ?? repo,
    task,
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
    (queued ??= metaWritten =
      metaWritten
        .catch(() => undefined) // a failed write is made good by the next one
        .then(() => {
          queued = null;
          return writeMeta(files, { ...meta });
        }));
  ctx.log(`started ${claim.id} run ${runId}${resumeSession ? ` resuming ${resumeSession}` : ''}`);
  ctx.ownRuns.set(claim.path, meta); // a run is alive from here (its alive file is) until its Codex has ended

  const treeBefore = await (treeOfRepo ?? snapshotTree(meta.repo));
  // A pause between this check and the spawn is caught by the launch fence: see liveness.ts.
  if (!(await claim.held())) {
    await rm(aliveFile(files.dir), { force: true }); // no Codex runs: recovery need not wait for it
    return leftForRecovery(ctx, claim, `before run ${runId} started Codex`);
  }
  let outcome: CodexRunOutcome;
  try {
    outcome = await runCodex({
      codexBin: ctx.codexBin,
      argv,
      prompt: task,
      promptFile: join(files.dir, 'prompt.txt'),
      runDir: files.dir,
      eventsFile: files.events,
      logFile: files.log,
      timeoutMs: job.timeout_s === undefined ? ctx.defaultTimeoutMs : job.timeout_s * 1000,
      stallMs: ctx.stallMs,
      graceMs: ctx.graceMs,
      stop: AbortSignal.any([ctx.shutdown, claim.lost]),
      cancel,
      // meta.json is a progress note: a failed write is made good by the next one, or by the summary.
      onSpawn: (pid) => void ((meta.pid = pid), saveMeta().catch(() => undefined)),
      onSessionId: (id) => void ((meta.session_id = id), saveMeta().catch(() => undefined)),
    });
  } catch (err) {
    // Only opening the run's files throws (a full disk, no descriptors; a Codex that cannot start is an
    // outcome): nothing ran, so it is retried like a run that could not be prepared.
    meta.status = 'failed';
    await saveMeta().catch(() => undefined); // best effort: the job is filed with the error either way
    return setBack(ctx, claim, job, err);
  } finally {
    ctx.ownRuns.set(claim.path, null);
  }
  const filesChanged = await changedSince(treeBefore, meta.repo);
  const built = buildSummary({ meta, outcome, files, lastMessage: await readLastMessage(files), filesChanged, endedAt: new Date() });
  // A run that succeeded stays a success when a stop came as it ended (a worker paused meanwhile may find its claim lost).
  const interrupted = outcome.stopped && !outcome.timedOut && !outcome.cancelled && built.status !== 'succeeded';
  const summary: RunSummary = interrupted ? { ...built, status: 'interrupted' } : built;
  meta.status = summary.status;
  meta.session_id = summary.session_id;

  if (outcome.fenced) return leftForRecovery(ctx, claim, `before run ${runId} started Codex (judged dead and fenced meanwhile)`);
  if (!(await claim.held())) {
    // Another worker may own the job now: touch nothing of it; its recovery continues the session.
    await writeJsonAtomic(files.summary, summary).catch(() => undefined); // best effort: recovery rebuilds it from the events
    return leftForRecovery(ctx, claim, `during run ${runId}`);
  }
  // A run that ended is filed, retrying through passing file-system errors (a full disk, no file
  // descriptors): giving up early would leave it to recovery, and a run that succeeded must not run again.
  const filed = await withRetries(ctx, `filing ${claim.id}`, async () => {
    await metaWritten.catch(() => undefined); // its progress notes first: none may land after the last word
    const output = [
      [files.summary, summary],
      [files.meta, meta],
    ] as const;
    return fileRun(ctx, claim, job, summary, worktree, output);
  });
  if (filed.end) await notify(ctx, filed.end);
  return filed.outcome;
}

/** Another worker may own the job now: nothing more of it is touched; its recovery continues the session. */
function leftForRecovery(ctx: RunJobContext, claim: Claim, when: string): JobOutcome {
  ctx.log(`lost the claim of ${claim.id} ${when}; left for recovery`);
  return 'interrupted';
}

/**
 * Files a run that ended, with its run's files `output` (summary and meta, written before the job moves on):
 * done, failed, or queued again (interrupted, usage limit, transient failure).
 */
async function fileRun(
  ctx: RunJobContext,
  claim: Claim,
  job: QueuedJob,
  summary: RunSummary,
  worktree: Worktree | null,
  output: JsonFiles,
): Promise<{ outcome: JobOutcome; end: JobEnd | null }> {
  const ended = isEnded(summary);
  const next = ended ? nextAttempt(job, summary, new Date(), ctx.retryBaseMs) : null;
  // Queued again: the run's files first (one sync of its directory for both). Filed: in one go with its record.
  if (!ended || next) await writeJsonFilesAtomic(output);
  if (!ended) {
    // Shutdown: not the job's fault; it continues its session after the restart, one attempt counted.
    await requeueJob(ctx.layout, claim, queuedAgain(job, job.attempts + 1, summary.session_id, 'interrupted: the worker stopped'));
    ctx.log(`interrupted ${claim.id} run ${summary.run_id}; queued again`);
    return { outcome: 'interrupted', end: null };
  }
  if (next) {
    await requeueJob(ctx.layout, claim, next.job);
    ctx.log(`deferred ${claim.id} until ${next.notBefore.toISOString()}: ${next.why} (${decisiveError(summary.errors) ?? ''})`);
    return { outcome: 'deferred', end: null };
  }
  const state = summary.status === 'succeeded' ? 'done' : 'failed';
  const path = await finishJob(ctx.layout, claim, state, recordFromSummary(job, summary, worktree ?? undefined), output);
  ctx.log(`${state} ${claim.id} ${summary.status} exit=${summary.exit_code} ${summary.elapsed_seconds}s (${path})`);
  const end = { id: claim.id, state, status: summary.status, sessionId: summary.session_id, summary: summary.files.summary, jobFile: path };
  return { outcome: state, end };
}

/**
 * A job whose run could not be prepared (runs/ or active/ not writable, a full disk): one attempt
 * counted, then queued again after a backoff, or failed with the reason once its attempts are used up.
 */
async function setBack(ctx: RunJobContext, claim: Claim, job: QueuedJob, err: unknown): Promise<JobOutcome> {
  const error = `could not prepare the run: ${err instanceof Error ? err.message : String(err)}`;
  const attempts = job.attempts + 1;
  if (attempts >= (job.max_attempts ?? MAX_ATTEMPTS)) return fileUnrunnable(ctx, claim, job, null, error);
  const notBefore = new Date(Date.now() + retryDelayMs(attempts, ctx.retryBaseMs));
  await requeueJob(ctx.layout, claim, queuedAgain(job, attempts, job.resume_session ?? null, error, notBefore));
  ctx.log(`deferred ${claim.id} until ${notBefore.toISOString()}: ${error}`);
  return 'deferred';
}

/** A job whose run could not even start (no worktree, Codex not spawnable, no run directory): failed, with the reason. */
async function fileUnrunnable(ctx: RunJobContext, claim: Claim, job: QueuedJob, runId: string | null, err: unknown): Promise<JobOutcome> {
  const error = err instanceof Error ? err.message : String(err);
  const sessionId = job.resume_session ?? null; // an earlier run's, kept for a retry or resume
  const path = await finishJob(ctx.layout, claim, 'failed', recordWithoutRun(job, { status: 'failed', error, runId, sessionId }));
  ctx.log(`failed ${claim.id}: ${error}`);
  await notify(ctx, { id: claim.id, state: 'failed', status: 'failed', sessionId, summary: null, jobFile: path });
  return 'failed';
}

/** `step`, tried again with a growing pause while it throws, at most FILING_TRIES times or until shutdown. */
async function withRetries<T>(ctx: RunJobContext, what: string, step: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      if (err instanceof ClaimLostError || attempt >= FILING_TRIES || ctx.shutdown.aborted) throw err;
      const pauseMs = Math.min(250 * 2 ** attempt, 30_000);
      ctx.log(`${what}: ${(err as Error).message}; trying again in ${pauseMs} ms`);
      await sleep(pauseMs);
    }
  }
}

/**
 * Another active job's Codex is alive, on this host or another, in working tree `repo` (the real path its
 * run recorded) or on `session`. This worker's own jobs are known from memory (see ownRuns): a run prepared
 * and not yet ended is alive, as its alive file says; only other workers' jobs are read from their files.
 */
async function liveRunOn(ctx: RunJobContext, on: { repo: string | null; session: string | null }, except: string): Promise<boolean> {
  const { layout, ownRuns } = ctx;
  const isOn = (meta: RunMeta) => {
    const session = meta.session_id ?? meta.resumed_from;
    return (on.repo !== null && meta.repo === on.repo) || (on.session !== null && session === on.session);
  };
  for (const [path, meta] of ownRuns) if (path !== except && meta && isOn(meta)) return true;
  let now: Promise<number> | undefined; // the server's clock, asked once and only if a run needs it
  for (const name of await readdir(layout.dir('active'))) {
    const path = join(layout.dir('active'), name);
    if (!isJobFileName(name) || path === except || ownRuns.has(path)) continue;
    // Unparsable (being replaced, or read short through a network file system's stale cached size): not a live run's.
    const active = await readJson(path, ActiveJob);
    if (!active) continue;
    const files = runFiles(layout.runs, active.run_id);
    const meta = await readMeta(files);
    if (!meta || !isOn(meta)) continue;
    // Only a run on our tree or session is judged (we hold their locks: its worker lost them), and one judged
    // dead is fenced: its worker, paused before the spawn, must not start it there later.
    if (isRunAlive(meta) || (await aliveElseFenced(files.dir, await (now ??= serverNow(layout.runs))))) return true;
  }
  return false;
}

function notify(ctx: RunJobContext, end: JobEnd): Promise<void> {
  return ctx.onDone ? runOnDone(ctx.onDone, end, ctx.log) : Promise.resolve();
}
