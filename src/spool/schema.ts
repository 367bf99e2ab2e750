// The one source of truth for every file format codex-spool reads or writes. Pure.
// Types are inferred from these schemas; docs/schema/*.json are generated from them (`npm run schema`).
// Each schema is built when first used (lazy, src/util/zod.ts): a command uses a few of them.
import { isAbsolute } from 'node:path';
import { lazy } from '../util/zod.js';
import * as z from 'zod/mini';

import { JOB_ID_SOURCE, UUID_SOURCE } from './ids.js';

export { JOB_ID_SOURCE, UUID_SOURCE } from './ids.js';

/** A job id: the inbox file's name stem. No `/`, no leading `.`, so it can never escape the spool. */
export const JobId = lazy(() =>
  z.string().check(z.regex(new RegExp(`^${JOB_ID_SOURCE}$`), 'letters, digits, ".", "_", "-"; 1-128 chars; not starting with "."')),
);

/** A Codex session (thread) id. Codex takes any non-UUID resume argument as a thread *name*. */
export const SessionId = lazy(() => z.string().check(z.regex(new RegExp(`^${UUID_SOURCE}$`), 'a UUID')));

/** One problem a zod schema found, its path dotted (`(root)`: the value itself). */
const Issue = lazy(() => z.object({ path: z.string(), message: z.string() }));
type Issue = z.infer<typeof Issue>;

/** The issues of a zod error, each with its path dotted. */
export function issuesOf(error: z.core.$ZodError): Issue[] {
  return error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message }));
}

/** The issues of a zod error on one line: `path: message; path: message`. */
export function describeIssues(error: z.core.$ZodError): string {
  return issuesOf(error)
    .map((i) => `${i.path}: ${i.message}`)
    .join('; ');
}

/** Longest allowed `timeout_s`: well inside what a Node timer can hold (24.8 days). */
export const MAX_TIMEOUT_S = 7 * 24 * 3600;
/** Longest `reason` a queued job holds (its whole story is in the run's files). */
export const MAX_REASON_CHARS = 300;
/** The largest job file ever read: the ceiling of the policy's max_job_bytes. */
export const MAX_JOB_BYTES = 16 * 1024 * 1024;
/** The policy's default max_job_bytes (a job is a prompt and a few settings); also what read commands open. */
export const DEFAULT_MAX_JOB_BYTES = 256 * 1024;

/** A string that becomes a process argument: the OS cannot pass a NUL byte. */
const ArgText = lazy(() => z.string().check(z.refine((s) => !s.includes('\0'), 'must not contain a NUL character')));

export const Sandbox = lazy(() => z.enum(['read-only', 'workspace-write', 'danger-full-access']));

/** A git revision for `codex exec review`: one argument, never taken for an option. */
const GitRev = lazy(() =>
  z
    .string()
    .check(z.maxLength(256), z.regex(/^[^-\s\p{Cc}][^\s\p{Cc}]*$/u, 'a git revision: no leading "-", no whitespace or control character')),
);

/** What a review job asks Codex to review (`codex exec review --uncommitted | --base B | --commit SHA`). */
export const Review = lazy(() =>
  z.union([
    z.strictObject({ uncommitted: z.literal(true).check(z.describe('Staged, unstaged and untracked changes')) }),
    z.strictObject({ base: GitRev.check(z.describe('The changes against this base branch')) }),
    z.strictObject({ commit: GitRev.check(z.describe('The changes this commit introduced')) }),
  ]),
);
export type Review = z.infer<typeof Review>;

/** The JSON Schema form of "exactly one of task and review" (a refinement does not show in a JSON Schema). */
const TASK_OR_REVIEW = { oneOf: [{ required: ['task'] }, { required: ['review'] }] };

/** An optional field, described. */
const optional = <T extends z.ZodMiniType>(schema: T, description: string) => z.optional(schema).check(z.describe(description));

/** The fields of a job as submitted, without the rules across fields (zod cannot make a refined schema partial). */
const JobFields = lazy(() =>
  z.strictObject({
    repo: ArgText.check(z.refine(isAbsolute, 'must be an absolute path'), z.describe('Directory where Codex works')),
    task: optional(ArgText.check(z.minLength(1)), 'The prompt (or the follow-up prompt when resuming); this or `review` is required'),
    review: optional(Review, 'Ask Codex for a code review instead of a task (`codex exec review`); this or `task` is required'),
    resume: optional(z.union([SessionId, JobId]), 'Codex session id, or the id of an earlier job of this spool whose session continues'),
    model: optional(ArgText.check(z.minLength(1)), 'Codex model (-m)'),
    sandbox: optional(Sandbox, 'Codex sandbox mode'),
    args: optional(z.array(ArgText), 'Extra arguments passed to `codex exec` as they are'),
    timeout_s: optional(
      z.number().check(z.positive(), z.lte(MAX_TIMEOUT_S)),
      'Wall-clock limit for the Codex run, seconds (at most 7 days)',
    ),
    worktree: optional(z.boolean(), 'Run in a git worktree and branch of its own (kept for review); may run beside other jobs on the repo'),
    priority: optional(z.int(), 'Higher runs first; FIFO within a priority (default 0)'),
    max_attempts: optional(z.int().check(z.positive(), z.lte(100)), 'Runs allowed for transient failures and interruptions (default 3)'),
    claude_session: optional(
      z.string(),
      'Informational: the Claude Code session `submit` ran in. Not trusted: the hook goes by the claim only submit records',
    ),
  }),
);

/** What a caller writes into spool/inbox/<id>.json. Unknown fields are rejected. */
export const JobSpec = lazy(() =>
  JobFields.check(
    z.superRefine((job, ctx) => {
      const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
      if ((job.task === undefined) === (job.review === undefined)) issue('task', 'exactly one of task or review is required');
      if (!job.review) return;
      // `codex exec review` starts a session of its own, and a new worktree holds no uncommitted change.
      if (job.resume !== undefined) issue('resume', 'a review cannot resume a session');
      if (job.worktree && 'uncommitted' in job.review) issue('worktree', 'a new worktree has no uncommitted changes to review');
    }),
    z.meta(TASK_OR_REVIEW),
  ),
);
export type JobSpec = z.infer<typeof JobSpec>;

/** A job file's text, as `submit` (and the worker or `retry`, queueing a job again) writes it. */
export const jobFileText = (job: object) => `${JSON.stringify(job)}\n`;

/**
 * The size of what was submitted of `job`: its JobSpec fields as submit writes them. This, not the size of
 * a file the worker queued again with its own facts (runs, a reason), is what policy.max_job_bytes bounds.
 */
export function submittedBytes(job: JobSpec): number {
  return Buffer.byteLength(jobFileText(Object.fromEntries(Object.entries(job).filter(([key]) => key in JobSpec.shape))));
}

/** How a run ended. */
export const RunStatus = lazy(() => z.enum(['succeeded', 'failed', 'timed_out', 'cancelled']));
export type RunStatus = z.infer<typeof RunStatus>;

/**
 * What only the worker knows and writes about a job. A job file in the inbox cannot carry these (JobSpec
 * is strict): the inbox holds what was submitted, and everything the worker puts back in a queue goes to
 * spool/deferred/ as a QueuedJob. Made anew for each schema that holds them (built at most once each).
 */
const workerFacts = () => ({
  queued_at: z.number().check(z.describe('When the job was first queued (ms since the epoch): its place in submission order')),
  attempts: z.int().check(z.nonnegative(), z.describe('Runs already attempted (interrupted or transient failures)')),
  not_before: optional(z.iso.datetime(), 'When it may run again (usage limit reset, backoff)'),
  resume_session: optional(SessionId, 'The session an interrupted or retried run continues'),
  runs: optional(z.array(z.string()), "The job's runs so far, oldest first (runs/<run-id>/)"),
  retry_of: optional(RunStatus, '`retry`: how the run it continues ended (its next prompt says so)'),
  reason: optional(
    z.string().check(z.maxLength(MAX_REASON_CHARS)),
    'Why the worker queued it again: a retry and its error, a recovery, a usage limit, a wait',
  ),
});

/** spool/deferred/<id>.json: a job the worker (or `retry`) queued again, with the worker's facts. */
export const QueuedJob = lazy(() => z.safeExtend(JobSpec, workerFacts()).check(z.meta(TASK_OR_REVIEW)));
export type QueuedJob = z.infer<typeof QueuedJob>;

/** Whatever fields of a queued job are sound, for filing a job that cannot be handled with what it said. */
export const PartialQueuedJob = lazy(() => z.partial(z.safeExtend(JobFields, workerFacts())));

/** spool/active/<id>.json once its run has started: the queued job plus the run that holds it. */
export const ActiveJob = lazy(() => z.safeExtend(QueuedJob, { run_id: z.string() }));
export type ActiveJob = z.infer<typeof ActiveJob>;

/** Run states of runs/<id>/meta.json and summary.json: a run stopped by a shutdown or crash is `interrupted` (resumed later). */
const RunEnd = lazy(() => z.enum(['succeeded', 'failed', 'timed_out', 'cancelled', 'interrupted']));

/** Token usage as Codex reports it in `turn.completed` (cumulative for the whole session). */
export const Usage = lazy(() =>
  z.object({
    input_tokens: z.number(),
    cached_input_tokens: z.number(),
    output_tokens: z.number(),
    reasoning_output_tokens: z.number(),
  }),
);
export type Usage = z.infer<typeof Usage>;

/** The small result attached to a finished job in spool/done or spool/failed. */
export const JobResult = lazy(() =>
  z.object({
    run_id: z.nullable(z.string()).check(z.describe('null when the job was cancelled before it ran')),
    session_id: z.nullable(SessionId),
    status: RunStatus,
    exit_code: z.nullable(z.int()),
    elapsed_seconds: z.number(),
    final_message: z.nullable(z.string()),
    error: z
      .nullable(z.string())
      .check(z.describe('The error that decided the run (the last fatal one), with a hint when a person can fix it')),
    worktree: optional(z.object({ path: z.string(), branch: z.string() }), "The job's own worktree"),
    summary: z.nullable(z.string()).check(z.describe("Absolute path of the run's summary.json")),
  }),
);
export type JobResult = z.infer<typeof JobResult>;

/** A finished job: the job as submitted, the worker's facts (absent if it never ran) and its result. */
export const FinishedJob = lazy(() => {
  const facts = workerFacts();
  return z
    .safeExtend(JobSpec, {
      queued_at: z.optional(facts.queued_at),
      attempts: z.optional(facts.attempts),
      resume_session: facts.resume_session,
      runs: facts.runs,
      retry_of: facts.retry_of,
      result: JobResult,
    })
    .check(z.meta(TASK_OR_REVIEW));
});
export type FinishedJob = z.infer<typeof FinishedJob>;

/** A field of a file as read back (someone may have edited it): a value of the wrong type counts as not given. */
const given = <T extends z.ZodMiniType>(schema: T) => z.catch(z.optional(schema), undefined);

/** The strings of a list, whatever else it holds: prune must not lose a run's name to one bad entry beside it. */
const strings = lazy(() =>
  z.pipe(
    z.array(z.unknown()),
    z.transform((list) => list.filter((v): v is string => typeof v === 'string')),
  ),
);

/**
 * A finished job's result as read back, field by field: a result that JobResult does not accept (an older
 * version's, a job cancelled before it ran) still shows what it has. A null stays null, so that a whole
 * result still is a JobResult.
 */
export const StoredResult = lazy(() =>
  z.looseObject({
    run_id: given(z.nullable(z.string())),
    session_id: given(z.nullable(z.string())),
    status: given(RunStatus),
    exit_code: given(z.nullable(z.number())),
    elapsed_seconds: given(z.number()),
    final_message: given(z.nullable(z.string())),
    error: given(z.nullable(z.string())),
    worktree: given(z.looseObject({ path: given(z.string()) })),
  }),
);
export type StoredResult = z.infer<typeof StoredResult>;

/**
 * A job file of any state as its readers take it: any JSON object, the fields they use typed, each one of the
 * wrong type read as absent, the rest kept as they are. The writers' formats are the strict schemas above.
 */
export const StoredJob = lazy(() =>
  z.looseObject({
    repo: given(z.string()),
    task: given(z.string()),
    review: given(Review),
    resume: given(z.string()),
    worktree: given(z.boolean()),
    queued_at: given(z.number()),
    not_before: given(z.string()),
    reason: given(z.string()),
    runs: given(strings),
    run_id: given(z.string()),
    result: given(StoredResult),
  }),
);
export type StoredJob = z.infer<typeof StoredJob>;

/** A rejection's error file as the Claude hook reads it back: what it says of why, whatever else it holds or lacks. */
export const StoredRejection = lazy(() => z.looseObject({ reason: given(z.string()), message: given(z.string()) }));
export type StoredRejection = z.infer<typeof StoredRejection>;

/** The files of one run, all under runs/<run-id>/. */
export const RunFiles = lazy(() =>
  z.object({
    dir: z.string(),
    meta: z.string(),
    events: z.string(),
    log: z.string(),
    last_message: z.string(),
    summary: z.string(),
  }),
);
export type RunFiles = z.infer<typeof RunFiles>;

/** runs/<run-id>/meta.json: written when the run starts, updated as soon as the session id is known. */
export const RunMeta = lazy(() =>
  z.object({
    run_id: z.string(),
    job_id: z.string(),
    repo: z.string(),
    task: z.string(),
    resumed_from: z.nullable(SessionId),
    argv: z.array(z.string()),
    codex_bin: z.string(),
    codex_version: z.nullable(z.string()),
    pid: z.nullable(z.int()),
    started_at: z.string(),
    status: z.union([z.literal('running'), RunEnd]),
    session_id: z.nullable(SessionId),
  }),
);
export type RunMeta = z.infer<typeof RunMeta>;

/** runs/<run-id>/summary.json: everything a caller may want to know about a finished run. */
export const RunSummary = lazy(() =>
  z.object({
    run_id: z.string(),
    job_id: z.string(),
    session_id: z.nullable(SessionId),
    resumed_from: z.nullable(SessionId),
    repo: z.string(),
    task: z.string(),
    status: RunEnd,
    exit_code: z.nullable(z.int()),
    signal: z.nullable(z.string()),
    started_at: z.string(),
    ended_at: z.string(),
    elapsed_seconds: z.number(),
    final_message: z.nullable(z.string()),
    usage: z.nullable(Usage),
    commands: z.object({
      count: z.int(),
      failed: z.int(),
      items: z.array(z.object({ command: z.string(), exit_code: z.nullable(z.int()) })),
    }),
    files_changed: z.object({ count: z.int(), paths: z.array(z.string()) }),
    errors: z.array(z.string()),
    files: RunFiles,
  }),
);
export type RunSummary = z.infer<typeof RunSummary>;

/** Why a job was rejected: the machine-readable kind of the error. */
export const RejectReason = lazy(() =>
  z.enum(['bad_name', 'unreadable', 'invalid_json', 'invalid_job', 'repo_missing', 'unknown_resume', 'duplicate_id', 'policy']),
);
export type RejectReason = z.infer<typeof RejectReason>;

/** spool/rejected/<id>.error.json, next to the rejected job's unchanged bytes. */
export const RejectionError = lazy(() =>
  z.object({
    job_file: z.string(),
    reason: RejectReason,
    message: z.string(),
    issues: z.array(Issue),
    rejected_at: z.string(),
  }),
);
export type RejectionError = z.infer<typeof RejectionError>;

/** spool/workers/<host>-<pid>.json: a live worker's heartbeat, rewritten every few seconds, removed when it stops. */
export const WorkerBeat = lazy(() =>
  z.object({
    pid: z.int(),
    host: z.string(),
    /** When the worker started, and when it last wrote this file (ISO 8601). */
    started: z.string(),
    heartbeat: z.string(),
    /** codex-spool's version. */
    version: z.string(),
    concurrency: z.int(),
    /** The process's start time in clock ticks since boot (/proc/<pid>/stat): tells a reused pid apart. */
    proc_start: z.nullable(z.int()),
  }),
);
export type WorkerBeat = z.infer<typeof WorkerBeat>;

/** Longest final message a summary or job result holds; the whole one stays in last-message.txt. */
export const MAX_FINAL_MESSAGE_BYTES = 64 * 1024;
