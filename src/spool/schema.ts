// The one source of truth for every file format codex-spool reads or writes. Pure.
// Types are inferred from these schemas; docs/schema/*.json are generated from them (`npm run schema`).
import { isAbsolute } from 'node:path';
import * as z from 'zod';

/** The pattern of a job id (unanchored, for use inside other patterns): see JobId. */
export const JOB_ID_SOURCE = '[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}';
/** The pattern of a UUID, any case (unanchored): see SessionId. */
export const UUID_SOURCE = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';

/** A job id: the inbox file's name stem. No `/`, no leading `.`, so it can never escape the spool. */
export const JobId = z
  .string()
  .regex(new RegExp(`^${JOB_ID_SOURCE}$`), 'letters, digits, ".", "_", "-"; 1-128 chars; not starting with "."');

/** A Codex session (thread) id. Codex takes any non-UUID resume argument as a thread *name*. */
export const SessionId = z.string().regex(new RegExp(`^${UUID_SOURCE}$`), 'a UUID');

/** One problem a zod schema found, its path dotted (`(root)`: the value itself). */
const Issue = z.object({ path: z.string(), message: z.string() });
type Issue = z.infer<typeof Issue>;

/** The issues of a zod error, each with its path dotted. */
export function issuesOf(error: z.ZodError): Issue[] {
  return error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message }));
}

/** The issues of a zod error on one line: `path: message; path: message`. */
export function describeIssues(error: z.ZodError): string {
  return issuesOf(error).map((i) => `${i.path}: ${i.message}`).join('; ');
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
const ArgText = z.string().refine((s) => !s.includes('\0'), 'must not contain a NUL character');

export const Sandbox = z.enum(['read-only', 'workspace-write', 'danger-full-access']);

/** A git revision for `codex exec review`: one argument, never taken for an option. */
const GitRev = z
  .string()
  .max(256)
  .regex(/^[^-\s\p{Cc}][^\s\p{Cc}]*$/u, 'a git revision: no leading "-", no whitespace or control character');

/** What a review job asks Codex to review (`codex exec review --uncommitted | --base B | --commit SHA`). */
export const Review = z.union([
  z.strictObject({ uncommitted: z.literal(true).describe('Staged, unstaged and untracked changes') }),
  z.strictObject({ base: GitRev.describe('The changes against this base branch') }),
  z.strictObject({ commit: GitRev.describe('The changes this commit introduced') }),
]);
export type Review = z.infer<typeof Review>;

/** The JSON Schema form of "exactly one of task and review" (a refinement does not show in a JSON Schema). */
const TASK_OR_REVIEW = { oneOf: [{ required: ['task'] }, { required: ['review'] }] };

/** The fields of a job as submitted, without the rules across fields (zod cannot make a refined schema partial). */
const JobFields = z.strictObject({
  repo: ArgText.refine(isAbsolute, 'must be an absolute path').describe('Directory where Codex works'),
  task: ArgText.min(1).optional().describe('The prompt (or the follow-up prompt when resuming); this or `review` is required'),
  review: Review.optional().describe('Ask Codex for a code review instead of a task (`codex exec review`); this or `task` is required'),
  resume: z
    .union([SessionId, JobId])
    .optional()
    .describe('Codex session id, or the id of an earlier job of this spool whose session continues'),
  model: ArgText.min(1).optional().describe('Codex model (-m)'),
  sandbox: Sandbox.optional().describe('Codex sandbox mode'),
  args: z.array(ArgText).optional().describe('Extra arguments passed to `codex exec` as they are'),
  timeout_s: z
    .number()
    .positive()
    .max(MAX_TIMEOUT_S)
    .optional()
    .describe('Wall-clock limit for the Codex run, seconds (at most 7 days)'),
  worktree: z
    .boolean()
    .optional()
    .describe('Run in a git worktree and branch of its own (kept for review); may run beside other jobs on the repo'),
  priority: z.number().int().optional().describe('Higher runs first; FIFO within a priority (default 0)'),
  max_attempts: z
    .number()
    .int()
    .positive()
    .max(100)
    .optional()
    .describe('Runs allowed for transient failures and interruptions (default 3)'),
  claude_session: z
    .string()
    .optional()
    .describe('Informational: the Claude Code session `submit` ran in. Not trusted: the hook goes by the claim only submit records'),
});

/** What a caller writes into spool/inbox/<id>.json. Unknown fields are rejected. */
export const JobSpec = JobFields.superRefine((job, ctx) => {
  const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  if ((job.task === undefined) === (job.review === undefined)) issue('task', 'exactly one of task or review is required');
  if (!job.review) return;
  // `codex exec review` starts a session of its own, and a new worktree holds no uncommitted change.
  if (job.resume !== undefined) issue('resume', 'a review cannot resume a session');
  if (job.worktree && 'uncommitted' in job.review) issue('worktree', 'a new worktree has no uncommitted changes to review');
}).meta(TASK_OR_REVIEW);
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
export const RunStatus = z.enum(['succeeded', 'failed', 'timed_out', 'cancelled']);
export type RunStatus = z.infer<typeof RunStatus>;

/**
 * What only the worker knows and writes about a job. A job file in the inbox cannot carry these (JobSpec
 * is strict): the inbox holds what was submitted, and everything the worker puts back in a queue goes to
 * spool/deferred/ as a QueuedJob.
 */
const WorkerFacts = {
  queued_at: z.number().describe('When the job was first queued (ms since the epoch): its place in submission order'),
  attempts: z.number().int().nonnegative().describe('Runs already attempted (interrupted or transient failures)'),
  not_before: z.string().datetime().optional().describe('When it may run again (usage limit reset, backoff)'),
  resume_session: SessionId.optional().describe('The session an interrupted or retried run continues'),
  runs: z.array(z.string()).optional().describe("The job's runs so far, oldest first (runs/<run-id>/)"),
  retry_of: RunStatus.optional().describe('`retry`: how the run it continues ended (its next prompt says so)'),
  reason: z.string().max(MAX_REASON_CHARS).optional().describe('Why the worker queued it again: a retry and its error, a recovery, a usage limit, a wait'),
};

/** spool/deferred/<id>.json: a job the worker (or `retry`) queued again, with the worker's facts. */
export const QueuedJob = JobSpec.safeExtend(WorkerFacts).meta(TASK_OR_REVIEW);
export type QueuedJob = z.infer<typeof QueuedJob>;

/** Whatever fields of a queued job are sound, for filing a job that cannot be handled with what it said. */
export const PartialQueuedJob = JobFields.safeExtend(WorkerFacts).partial();

/** spool/active/<id>.json once its run has started: the queued job plus the run that holds it. */
export const ActiveJob = QueuedJob.safeExtend({ run_id: z.string() });
export type ActiveJob = z.infer<typeof ActiveJob>;

/** Run states of runs/<id>/meta.json and summary.json: a run stopped by a shutdown or crash is `interrupted` (resumed later). */
const RunEnd = z.enum(['succeeded', 'failed', 'timed_out', 'cancelled', 'interrupted']);


/** Token usage as Codex reports it in `turn.completed` (cumulative for the whole session). */
export const Usage = z.object({
  input_tokens: z.number(),
  cached_input_tokens: z.number(),
  output_tokens: z.number(),
  reasoning_output_tokens: z.number(),
});
export type Usage = z.infer<typeof Usage>;

/** The small result attached to a finished job in spool/done or spool/failed. */
export const JobResult = z.object({
  run_id: z.string().nullable().describe('null when the job was cancelled before it ran'),
  session_id: SessionId.nullable(),
  status: RunStatus,
  exit_code: z.number().int().nullable(),
  elapsed_seconds: z.number(),
  final_message: z.string().nullable(),
  error: z.string().nullable().describe('The error that decided the run (the last fatal one), with a hint when a person can fix it'),
  worktree: z.object({ path: z.string(), branch: z.string() }).optional().describe('The job\'s own worktree'),
  summary: z.string().nullable().describe('Absolute path of the run\'s summary.json'),
});
export type JobResult = z.infer<typeof JobResult>;

/** A finished job: the job as submitted, the worker's facts (absent if it never ran) and its result. */
export const FinishedJob = JobSpec.safeExtend({
  queued_at: WorkerFacts.queued_at.optional(),
  attempts: WorkerFacts.attempts.optional(),
  resume_session: WorkerFacts.resume_session,
  runs: WorkerFacts.runs,
  retry_of: WorkerFacts.retry_of,
  result: JobResult,
}).meta(TASK_OR_REVIEW);
export type FinishedJob = z.infer<typeof FinishedJob>;

/** The files of one run, all under runs/<run-id>/. */
export const RunFiles = z.object({
  dir: z.string(),
  meta: z.string(),
  events: z.string(),
  log: z.string(),
  last_message: z.string(),
  summary: z.string(),
});
export type RunFiles = z.infer<typeof RunFiles>;

/** runs/<run-id>/meta.json: written when the run starts, updated as soon as the session id is known. */
export const RunMeta = z.object({
  run_id: z.string(),
  job_id: z.string(),
  repo: z.string(),
  task: z.string(),
  resumed_from: SessionId.nullable(),
  argv: z.array(z.string()),
  codex_bin: z.string(),
  codex_version: z.string().nullable(),
  pid: z.number().int().nullable(),
  started_at: z.string(),
  status: z.union([z.literal('running'), RunEnd]),
  session_id: SessionId.nullable(),
});
export type RunMeta = z.infer<typeof RunMeta>;

/** runs/<run-id>/summary.json: everything a caller may want to know about a finished run. */
export const RunSummary = z.object({
  run_id: z.string(),
  job_id: z.string(),
  session_id: SessionId.nullable(),
  resumed_from: SessionId.nullable(),
  repo: z.string(),
  task: z.string(),
  status: RunEnd,
  exit_code: z.number().int().nullable(),
  signal: z.string().nullable(),
  started_at: z.string(),
  ended_at: z.string(),
  elapsed_seconds: z.number(),
  final_message: z.string().nullable(),
  usage: Usage.nullable(),
  commands: z.object({
    count: z.number().int(),
    failed: z.number().int(),
    items: z.array(z.object({ command: z.string(), exit_code: z.number().int().nullable() })),
  }),
  files_changed: z.object({ count: z.number().int(), paths: z.array(z.string()) }),
  errors: z.array(z.string()),
  files: RunFiles,
});
export type RunSummary = z.infer<typeof RunSummary>;

/** Why a job was rejected: the machine-readable kind of the error. */
export const RejectReason = z.enum([
  'bad_name',
  'unreadable',
  'invalid_json',
  'invalid_job',
  'repo_missing',
  'unknown_resume',
  'duplicate_id',
  'policy',
]);
export type RejectReason = z.infer<typeof RejectReason>;

/** spool/rejected/<id>.error.json, next to the rejected job's unchanged bytes. */
export const RejectionError = z.object({
  job_file: z.string(),
  reason: RejectReason,
  message: z.string(),
  issues: z.array(Issue),
  rejected_at: z.string(),
});
export type RejectionError = z.infer<typeof RejectionError>;

/** spool/workers/<host>-<pid>.json: a live worker's heartbeat, rewritten every few seconds, removed when it stops. */
export const WorkerBeat = z.object({
  pid: z.number().int(),
  host: z.string(),
  /** When the worker started, and when it last wrote this file (ISO 8601). */
  started: z.string(),
  heartbeat: z.string(),
  /** codex-spool's version. */
  version: z.string(),
  concurrency: z.number().int(),
  /** The process's start time in clock ticks since boot (/proc/<pid>/stat): tells a reused pid apart. */
  proc_start: z.number().int().nullable(),
});
export type WorkerBeat = z.infer<typeof WorkerBeat>;
