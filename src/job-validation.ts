// Deciding whether a claimed job file can run: parse, schema, id, repo, policy, resume target.
// Validation happens once, here, at the boundary; everything after it trusts the QueuedJob it returns.
import { readFile, realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DEFAULT_POLICY, checkPolicy, pathArgValues, type JobPolicy } from './job-policy.js';
import {
  FinishedJob,
  JobId,
  JobSpec,
  QueuedJob,
  SessionId,
  type RejectReason,
  type RejectionError,
} from './job-schema.js';
import type { Worktree } from './git-worktree.js';
import { resumedPlace } from './resume-place.js';
import { findJob, type Claim } from './spool-moves.js';
import { isJobFileName, isWithin, jobIdOf, type SpoolLayout } from './spool-layout.js';

type Rejection = { kind: 'reject'; error: RejectionError };
export type Validation =
  /**
   * `repo` is the job's working tree by its real path: what the repo lock, the policy and `--cd` use;
   * `worktree`, the worktree of the job it follows up, where it runs instead.
   */
  | { kind: 'ok'; job: QueuedJob; repo: string; resumeSession: string | null; worktree?: Worktree }
  /** The resume target is an earlier job still queued or running: try again after it ends. */
  | { kind: 'wait'; job: QueuedJob; on: string }
  | Rejection;

/** How far a chain of resumes is followed looking for a cycle; longer chains are refused as cycles. */
const MAX_RESUME_CHAIN = 100;

function rejection(name: string, reason: RejectReason, message: string, issues: RejectionError['issues'] = []): Rejection {
  return { kind: 'reject', error: { job_file: name, reason, message, issues, rejected_at: new Date().toISOString() } };
}

/** Parses and schema-checks a job file's name and bytes as `schema` (pure). */
export function parseJob<T extends typeof JobSpec | typeof QueuedJob = typeof JobSpec>(
  name: string,
  bytes: Uint8Array,
  schema: T = JobSpec as T,
): { kind: 'ok'; spec: import('zod').infer<T> } | Rejection {
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
  if (parsed.success) return { kind: 'ok', spec: parsed.data as import('zod').infer<T> };
  const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message }));
  return rejection(name, 'invalid_job', `invalid job: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
}

/**
 * Full validation of a claimed job: its file, its id, its repo, the worker's policy and its resume target.
 * A fresh inbox file is a JobSpec (fields the worker owns are refused) and joins the queue at its file's
 * ctime; a file from deferred/ is a QueuedJob the worker wrote.
 */
export async function validateJob(layout: SpoolLayout, claim: Claim, policy: JobPolicy = DEFAULT_POLICY): Promise<Validation> {
  const { name, content } = claim;
  if (claim.duplicateOf) {
    return rejection(name, 'duplicate_id', `job id "${claim.id}" is already used by a job in spool/${claim.duplicateOf}`);
  }
  if (content.kind === 'unreadable') return rejection(name, 'unreadable', `job file ${content.why}`);
  if (content.kind === 'too_large') {
    return rejection(name, 'policy', `policy (size): job file of ${content.size} bytes is over policy.max_job_bytes ${content.limit}`);
  }
  const parsed = claim.from === 'inbox' ? parseJob(name, content.bytes) : parseJob(name, content.bytes, QueuedJob);
  if (parsed.kind === 'reject') return parsed;
  const job: QueuedJob = claim.from === 'inbox' ? { ...parsed.spec, queued_at: claim.queuedAt, attempts: 0 } : (parsed.spec as QueuedJob);
  const id = jobIdOf(name);
  // A job the worker queued again may follow its own failed record (a retry); nothing may follow a done one.
  if (await findJob(layout, id, ['done'])) return rejection(name, 'duplicate_id', `job id "${id}" is already used by a finished job in spool/done`);
  const repoStat = await stat(job.repo).catch(() => null);
  if (!repoStat?.isDirectory()) return rejection(name, 'repo_missing', `repo ${job.repo} is not an existing directory`);
  // The real path, resolved once: a symlink swapped after this cannot move the run elsewhere.
  const repo = await realpath(job.repo);
  const spoolRoot = await realpath(layout.root);
  const violation = checkPolicy(job, policy, { real: repo, owned: repoStat.uid === process.getuid?.(), spoolRoot });
  if (violation) return rejection(name, 'policy', `policy (${violation.rule}): ${violation.message}`);
  // A directory an allowed argument opens to Codex (--add-dir) may no more reach the root than the repo.
  for (const dir of pathArgValues(job.args ?? [])) {
    const real = await realpath(resolve(repo, dir)).catch(() => resolve(repo, dir));
    if (isWithin(spoolRoot, real) || isWithin(real, spoolRoot)) {
      return rejection(name, 'policy', `policy (args): ${dir} reaches the codex-spool root ${spoolRoot}`);
    }
  }
  const resolved = await resolveResume(layout, name, job, repo);
  return resolved.kind === 'ok' ? inheritWorktree(layout, name, resolved) : resolved;
}

/** The session a valid job continues: the worker's own (a requeue, a retry), or the one `resume` names. */
async function resolveResume(layout: SpoolLayout, name: string, job: QueuedJob, repo: string): Promise<Validation> {
  if (job.resume_session) return { kind: 'ok', job, repo, resumeSession: job.resume_session };
  if (job.resume === undefined) return { kind: 'ok', job, repo, resumeSession: null };
  if (SessionId.safeParse(job.resume).success) return { kind: 'ok', job, repo, resumeSession: job.resume.toLowerCase() };
  if (job.resume === jobIdOf(name)) return rejection(name, 'unknown_resume', `job "${jobIdOf(name)}" cannot resume itself`);
  return resolveResumeJob(layout, name, job, repo);
}

/**
 * A follow-up of a job that ran in a worktree of the same repo runs in that worktree (where its session's
 * work is), unless it asks for a worktree of its own; one given another repo (submit --force) runs there.
 */
async function inheritWorktree(layout: SpoolLayout, name: string, v: Validation & { kind: 'ok' }): Promise<Validation> {
  if (v.job.worktree || v.job.resume === undefined) return v;
  const place = await resumedPlace(layout, v.job.resume);
  if (!place?.worktree || (await realpath(place.repo).catch(() => null)) !== v.repo) return v;
  if (!(await stat(place.worktree.path).catch(() => null))?.isDirectory()) {
    return rejection(name, 'repo_missing', `worktree ${place.worktree.path} of job "${place.job_id}" no longer exists`);
  }
  return { ...v, worktree: place.worktree };
}

/** `resume` names an earlier job: continue its session once that job has ended with one. */
async function resolveResumeJob(layout: SpoolLayout, name: string, job: QueuedJob, repo: string): Promise<Validation> {
  const target = job.resume!;
  const state = await findJob(layout, target, ['inbox', 'deferred', 'active', 'done', 'failed']);
  if (state === 'inbox' || state === 'deferred' || state === 'active') {
    const cycle = await resumeCycle(layout, jobIdOf(name), target);
    if (cycle) return rejection(name, 'unknown_resume', `resume cycle: ${cycle.join(' → ')} (each waits for the next)`);
    return { kind: 'wait', job, on: target };
  }
  if (state === null) {
    return rejection(name, 'unknown_resume', `resume target "${target}" is neither a session id nor a job of this spool`);
  }
  const session = await finishedSession(layout.job(state, target));
  if (!session) return rejection(name, 'unknown_resume', `job "${target}" in spool/${state} has no Codex session id to resume`);
  return { kind: 'ok', job, repo, resumeSession: session };
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
    const text = await readFile(layout.job(state, id), 'utf8').catch(() => null);
    if (text === null) continue;
    const resume = resumeFieldOf(text);
    return resume !== null && !SessionId.safeParse(resume).success ? resume : null;
  }
  return null;
}

/** The `resume` field of a job file's text, if it has one (pure; any malformed file resumes nothing). */
export function resumeFieldOf(text: string): string | null {
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
  try {
    const record = FinishedJob.safeParse(JSON.parse(await readFile(path, 'utf8')));
    return record.success ? record.data.result.session_id : null;
  } catch {
    return null;
  }
}
