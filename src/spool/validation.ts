// Deciding whether a claimed job file can run: parse, schema, id, repo, policy, resume target.
// Validation happens once, here, at the boundary; everything after it trusts the QueuedJob it returns.
import { lstat, realpath } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { readSmallFile } from './atomic-file.js';
import { DEFAULT_POLICY, checkPolicy, pathReachingRoot, type JobPolicy } from './policy.js';
import {
  FinishedJob,
  JobId,
  JobSpec,
  MAX_JOB_BYTES,
  QueuedJob,
  SessionId,
  describeIssues,
  issuesOf,
  type RejectReason,
  type RejectionError,
} from './schema.js';
import { deferredJobOfSession, resumedPlace, type Place } from './resume-place.js';
import { duplicateIdMessage, findJob, rejectJob, type Claim } from './moves.js';
import { isJobFileName, jobIdOf, worktreeOf, worktreeProblem, type JobState, type SpoolLayout, type Worktree } from './layout.js';
import { ifMissing } from '../util/errors.js';
import { readJson } from './json-file.js';

type Rejection = { kind: 'reject'; error: RejectionError };
export type Validation =
  /** `repo` is the job's working tree by its real path: what the repo lock, the policy and `--cd` use. */
  | { kind: 'ok'; job: QueuedJob; repo: string; resumeSession: string | null; worktree?: Worktree }
  /** The resume target is an earlier job still queued or running: try again after it ends. */
  | { kind: 'wait'; job: QueuedJob; on: string }
  | Rejection;

/** How far a chain of resumes is followed looking for a cycle; longer chains are refused as cycles. */
const MAX_RESUME_CHAIN = 100;

function rejection(name: string, reason: RejectReason, message: string, issues: RejectionError['issues'] = []): Rejection {
  return { kind: 'reject', error: { job_file: name, reason, message, issues, rejected_at: new Date().toISOString() } };
}

/** A rejection as one line: its reason, then its message. */
export const rejectionLine = (error: Pick<RejectionError, 'reason' | 'message'>) => `${error.reason}: ${error.message}`;

/** Parses and schema-checks a job file's name and bytes as `schema` (pure). */
export function parseJob<T extends typeof JobSpec | typeof QueuedJob = typeof JobSpec>(
  name: string,
  bytes: Uint8Array,
  schema: T = JobSpec as T,
): { kind: 'ok'; spec: import('zod/mini').infer<T> } | Rejection {
  if (!isJobFileName(name) || !JobId.safeParse(jobIdOf(name)).success) {
    return rejection(name, 'bad_name', 'file name is not <id>.json with an id of letters, digits, ".", "_", "-" (at most 128)');
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    return rejection(name, 'invalid_json', `not valid UTF-8 JSON: ${(err as Error).message}`);
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return { kind: 'ok', spec: parsed.data as import('zod/mini').infer<T> };
  return rejection(name, 'invalid_job', `invalid job: ${describeIssues(parsed.error)}`, issuesOf(parsed.error));
}

/**
 * Full validation of a claimed job: its file, its id, then `checkJob`. A fresh inbox file is a JobSpec
 * (fields the worker owns are refused) and joins the queue at its file's ctime; a file from deferred/ is a
 * QueuedJob the worker wrote.
 */
export async function validateJob(layout: SpoolLayout, claim: Claim, policy: JobPolicy = DEFAULT_POLICY): Promise<Validation> {
  const { name, content } = claim;
  if (claim.duplicateOf) return rejection(name, 'duplicate_id', duplicateIdMessage(claim.id, claim.duplicateOf));
  if (content.kind === 'unreadable') return unreadable(name, content.why);
  if (content.kind === 'too_large') {
    return rejection(name, 'policy', `job file of ${content.size} bytes is over policy.max_job_bytes ${content.limit}`);
  }
  const parsed = claim.from === 'inbox' ? parseJob(name, content.bytes) : parseJob(name, content.bytes, QueuedJob);
  if (parsed.kind === 'reject') return parsed;
  const job: QueuedJob = claim.from === 'inbox' ? { ...parsed.spec, queued_at: claim.queuedAt, attempts: 0 } : (parsed.spec as QueuedJob);
  const decision = await checkJob(layout, jobIdOf(name), job, policy);
  if (decision.kind === 'reject') return decision;
  return { ...decision, job };
}

const unreadable = (name: string, why: string) => rejection(name, 'unreadable', `job file ${why}`);

/**
 * Rejects a claimed job whose file could not be read (not a regular file, not readable by the worker) as
 * validateJob does, for whoever else holds its claim (`cancel`, recovery): such a file is never
 * filed as a job's record or moved back to a queue. rejected/ keeps it whole, and a directory can be neither
 * unlinked nor linked. Returns the rejection, or null when the file was read (the claim is the caller's still).
 */
export async function rejectUnreadable(layout: SpoolLayout, claim: Claim): Promise<RejectionError | null> {
  if (claim.content.kind !== 'unreadable') return null;
  const { error } = unreadable(claim.name, claim.content.why);
  await rejectJob(layout, claim, error);
  return error;
}

/** What `decideJob` rules on a schema-valid job: run it, wait for its resume target, or reject it. */
type Decision = { kind: 'ok'; repo: string; resumeSession: string | null; worktree?: Worktree } | { kind: 'wait'; on: string } | Rejection;

/**
 * The one check of a schema-valid job against the spool and the policy, for the worker's claim and for
 * `submit` alike (so that submit refuses at once exactly what the worker would reject): gathers the
 * facts, then `decideJob` rules.
 */
export async function checkJob(
  layout: SpoolLayout,
  id: string,
  job: JobSpec & { resume_session?: string },
  policy: JobPolicy,
): Promise<Decision> {
  return decideJob(`${id}.json`, id, job, policy, await jobFacts(layout, id, job));
}

/** What the rules need to know of the world about one job (read by `jobFacts`, judged by `decideJob`). */
export interface JobFacts {
  /** The id is taken by a finished job in done/ (a retry may follow its own failed record, nothing a done one). */
  inDone: boolean;
  /** The repo by its real path, resolved once (a symlink swapped after this cannot move the run); null if not a directory. */
  repo: { real: string; owned: boolean } | null;
  /** The codex-spool root's real path. */
  spoolRoot: string;
  /** The first path an allowed argument opens to Codex (--add-dir, --cd, a -c writable root…) that reaches the root, or null. */
  argReachingRoot: string | null;
  /** The earlier job `resume` names, when it names one: its state (null: none), a resume cycle through it, its session. */
  resumeJob: { state: JobState | null; cycle: string[] | null; session: string | null } | null;
  /**
   * The worktree a follow-up inherits: that of the finished job it continues, when that job ran on the same
   * repo and the follow-up asks for no worktree of its own (its session's work is there); null if none.
   */
  inherited: { job_id: string; worktree: Worktree; exists: boolean; problem?: string | null } | null;
  /** For a follow-up by session id: a job queued again to continue that session, which it waits for (null: none). */
  sessionQueuedJob: string | null;
}

/** The facts about `job` (id `id`) that `decideJob` needs. */
async function jobFacts(layout: SpoolLayout, id: string, job: JobSpec & { resume_session?: string }): Promise<JobFacts> {
  // Resolved once, then that very path looked at without following a link: the owner the policy judges is that
  // of the directory Codex gets, even when the job's writer swaps a link on the way in between (two lookups of
  // `job.repo` could each see another target).
  const real = await realpath(job.repo).catch(ifMissing(null));
  const repoStat = real === null ? null : await lstat(real).catch(ifMissing(null));
  const repo = real !== null && repoStat?.isDirectory() ? { real, owned: repoStat.uid === process.getuid?.() } : null;
  const base = repo?.real ?? resolve(job.repo);
  const target = job.resume;
  const namesJob = target !== undefined && !job.resume_session && !SessionId.safeParse(target).success && target !== id;
  const namesSession = target !== undefined && !job.resume_session && SessionId.safeParse(target).success;
  // A root not made yet (submit before any worker ran) is where it will be.
  const spoolRoot = await realpath(layout.root).catch(ifMissing(resolve(layout.root)));
  // The finished job whose session it continues, where that job ran: its worktree is inherited and is a base of relative paths.
  const place = target === undefined ? null : await resumedPlace(layout, target);
  return {
    inDone: (await findJob(layout, id, ['done'])) !== null,
    repo,
    spoolRoot,
    argReachingRoot: await pathReachingRoot(job.args ?? [], { repo: base, tree: treeOf(layout, id, job, place) }, spoolRoot),
    resumeJob: namesJob ? await resumeJobFacts(layout, id, target) : null,
    inherited: repo && target !== undefined && !job.worktree ? await inheritedWorktree(layout, place, repo.real) : null,
    sessionQueuedJob: namesSession ? await deferredJobOfSession(layout, id, target) : null,
  };
}

async function inheritedWorktree(layout: SpoolLayout, place: Place | null, repo: string): Promise<JobFacts['inherited']> {
  // A parent repo that cannot be resolved any more (gone, or any error) is not this one, which just resolved:
  // a best effort that only leaves the follow-up in its own repo, never reaches a path the checks did not see.
  if (!place?.worktree || (await realpath(place.repo).catch(() => null)) !== repo) return null;
  const problem = await worktreeProblem(layout, basename(place.worktree.path));
  return { job_id: place.job_id, worktree: place.worktree, exists: problem !== 'missing', problem: problem === 'missing' ? null : problem };
}

/**
 * The worktree Codex may work in for this job: its own, or the one of the job it resumes (inheritWorktree
 * makes the final choice; any candidate is checked, as Codex resolves relative paths against it).
 */
function treeOf(layout: SpoolLayout, id: string, job: JobSpec, place: Place | null): string | null {
  return job.worktree ? worktreeOf(layout, id).path : (place?.worktree?.path ?? null);
}

async function resumeJobFacts(layout: SpoolLayout, id: string, target: string): Promise<NonNullable<JobFacts['resumeJob']>> {
  const state = await findJob(layout, target, ['inbox', 'deferred', 'active', 'done', 'failed']);
  const queued = state === 'inbox' || state === 'deferred' || state === 'active';
  const finished = state === 'done' || state === 'failed';
  return {
    state,
    cycle: queued ? await resumeCycle(layout, id, target) : null,
    session: finished ? await finishedSession(layout.job(state, target)) : null,
  };
}

/** The rules, in order (pure): id not taken by a done job, repo, policy, argument directories, resume target. */
export function decideJob(
  name: string,
  id: string,
  job: JobSpec & { resume_session?: string },
  policy: JobPolicy,
  facts: JobFacts,
): Decision {
  if (facts.inDone) return rejection(name, 'duplicate_id', duplicateIdMessage(id, 'done'));
  const { repo, spoolRoot } = facts;
  if (!repo) return rejection(name, 'repo_missing', `repo ${job.repo} is not an existing directory`);
  const violation = checkPolicy(job, policy, { ...repo, spoolRoot });
  if (violation) return rejection(name, 'policy', violation.message);
  // A path an allowed argument opens to Codex may no more reach the root than the repo.
  const reaching = facts.argReachingRoot;
  if (reaching !== null) return rejection(name, 'policy', `argument path ${reaching} reaches the codex-spool root ${spoolRoot}`);
  const { inherited } = facts;
  const ok = (resumeSession: string | null): Decision =>
    inherited && !inherited.exists
      ? rejection(name, 'repo_missing', `worktree ${inherited.worktree.path} of job "${inherited.job_id}" no longer exists`)
      : inherited?.problem
        ? rejection(name, 'policy', `worktree of job "${inherited.job_id}" refused: ${inherited.problem}`)
        : { kind: 'ok', repo: repo.real, resumeSession, ...(inherited && { worktree: inherited.worktree }) };
  // A review is run whole again after an interruption: `codex exec review` continues no session.
  if (job.review) return ok(null);
  if (job.resume_session) return ok(job.resume_session);
  if (job.resume === undefined) return ok(null);
  // A session's own queued job (a retry, a recovered run) goes first, in its place; the follow-up comes after.
  if (facts.sessionQueuedJob) return { kind: 'wait', on: facts.sessionQueuedJob };
  if (SessionId.safeParse(job.resume).success) return ok(job.resume.toLowerCase());
  if (job.resume === id) return rejection(name, 'unknown_resume', `job "${id}" cannot resume itself`);
  const target = job.resume;
  const { state, cycle, session } = facts.resumeJob ?? { state: null, cycle: null, session: null };
  if (cycle) return rejection(name, 'unknown_resume', `resume cycle: ${cycle.join(' → ')} (each waits for the next)`);
  if (state === 'inbox' || state === 'deferred' || state === 'active') return { kind: 'wait', on: target };
  if (state === null) return rejection(name, 'unknown_resume', `resume target "${target}" is neither a session id nor a job of this spool`);
  if (!session) return rejection(name, 'unknown_resume', `job "${target}" in spool/${state} has no Codex session id to resume`);
  return ok(session);
}

/**
 * The chain from job `id` through queued jobs' `resume` into a cycle (back to `id`, or round jobs it
 * waits for, which can then never end), or null if it ends at a job that is running, finished, unknown or
 * resumes a session. A chain too long to follow counts as a cycle.
 */
async function resumeCycle(layout: SpoolLayout, id: string, first: string): Promise<string[] | null> {
  const chain = [id];
  for (let next: string | null = first; next !== null; next = await queuedResumeTarget(layout, next)) {
    const repeated = chain.includes(next);
    chain.push(next);
    if (repeated || chain.length > MAX_RESUME_CHAIN) return chain;
  }
  return null;
}

/** The job id that queued job `id` waits for, or null (not queued, or resumes no job). */
async function queuedResumeTarget(layout: SpoolLayout, id: string): Promise<string | null> {
  for (const state of ['inbox', 'deferred'] as const) {
    const text = await readSmallFile(layout.job(state, id), MAX_JOB_BYTES);
    if (text === null) continue;
    const resume = resumeFieldOf(text);
    return resume !== null && !SessionId.safeParse(resume).success ? resume : null;
  }
  return null;
}

/** The `resume` field of a job file's text, if it has one (pure; any malformed file resumes nothing). */
function resumeFieldOf(text: string): string | null {
  try {
    const json: unknown = JSON.parse(text);
    const resume = typeof json === 'object' && json !== null ? (json as { resume?: unknown }).resume : undefined;
    return typeof resume === 'string' && JobId.safeParse(resume).success ? resume : null;
  } catch {
    return null;
  }
}

/** The session id recorded in a finished job file, or null if it has none or cannot be read. */
async function finishedSession(path: string): Promise<string | null> {
  return (await readJson(path, FinishedJob))?.result.session_id ?? null;
}
