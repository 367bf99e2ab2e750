// Deciding whether a claimed job file can run: parse, schema, repo, resume target.
// Validation happens once, here, at the boundary; everything after it trusts the JobSpec.
import { readFile, realpath, stat } from 'node:fs/promises';
import { DEFAULT_POLICY, checkPolicy, type JobPolicy } from './job-policy.js';
import { FinishedJob, JobId, JobSpec, SessionId, type RejectReason, type RejectionError } from './job-schema.js';
import { findJob, type JobFileContent } from './spool-moves.js';
import { isJobFileName, jobIdOf, type SpoolLayout } from './spool-layout.js';

type Rejection = { kind: 'reject'; error: RejectionError };
export type Validation =
  | { kind: 'ok'; spec: JobSpec; resumeSession: string | null }
  /** The resume target is an earlier job still queued or running: try again after it ends. */
  | { kind: 'wait'; on: string }
  | Rejection;

function rejection(name: string, reason: RejectReason, message: string, issues: RejectionError['issues'] = []): Rejection {
  return { kind: 'reject', error: { job_file: name, reason, message, issues, rejected_at: new Date().toISOString() } };
}

/** Parses and schema-checks a job file's name and bytes (pure). */
export function parseJob(name: string, bytes: Uint8Array): { kind: 'ok'; spec: JobSpec } | Rejection {
  if (!isJobFileName(name) || !JobId.safeParse(jobIdOf(name)).success) {
    return rejection(name, 'bad_name', `file name "${name}" is not <id>.json with an id of letters, digits, ".", "_", "-" (at most 128)`);
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    return rejection(name, 'invalid_json', `not valid UTF-8 JSON: ${(err as Error).message}`);
  }
  const parsed = JobSpec.safeParse(json);
  if (parsed.success) return { kind: 'ok', spec: parsed.data };
  const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message }));
  return rejection(name, 'invalid_job', `invalid job: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
}

/** Full validation of a claimed job: its file, its id, its repo, the worker's policy and its resume target. */
export async function validateJob(
  layout: SpoolLayout,
  name: string,
  content: JobFileContent,
  policy: JobPolicy = DEFAULT_POLICY,
): Promise<Validation> {
  if (content.kind === 'unreadable') return rejection(name, 'unreadable', `job file ${content.why}`);
  if (content.kind === 'too_large') {
    return rejection(name, 'policy', `policy (size): job file of ${content.size} bytes is over policy.max_job_bytes ${content.limit}`);
  }
  const parsed = parseJob(name, content.bytes);
  if (parsed.kind === 'reject') return parsed;
  const { spec } = parsed;
  const id = jobIdOf(name);
  // A job already done keeps its result; a failed one may run again as a retry or recovery (attempts ≥ 1).
  const finished = await findJob(layout, id, spec.attempts ? ['done'] : ['done', 'failed']);
  if (finished) return rejection(name, 'duplicate_id', `job id "${id}" is already used by a finished job in spool/${finished}`);
  const repo = await stat(spec.repo).catch(() => null);
  if (!repo?.isDirectory()) return rejection(name, 'repo_missing', `repo ${spec.repo} is not an existing directory`);
  const violation = checkPolicy(spec, policy, { real: await realpath(spec.repo), owned: repo.uid === process.getuid?.() });
  if (violation) return rejection(name, 'policy', `policy (${violation.rule}): ${violation.message}`);
  if (spec.resume === undefined) return { kind: 'ok', spec, resumeSession: null };
  if (SessionId.safeParse(spec.resume).success) return { kind: 'ok', spec, resumeSession: spec.resume.toLowerCase() };
  if (spec.resume === id) return rejection(name, 'unknown_resume', `job "${id}" cannot resume itself`);
  return resolveResumeJob(layout, name, spec, spec.resume);
}

/** `resume` names an earlier job: continue its session once that job has ended with one. */
async function resolveResumeJob(layout: SpoolLayout, name: string, spec: JobSpec, target: string): Promise<Validation> {
  const state = await findJob(layout, target, ['inbox', 'active', 'done', 'failed']);
  if (state === 'inbox' || state === 'active') return { kind: 'wait', on: target };
  if (state === null) {
    return rejection(name, 'unknown_resume', `resume target "${target}" is neither a session id nor a job of this spool`);
  }
  const session = await finishedSession(layout.job(state, target));
  if (!session) return rejection(name, 'unknown_resume', `job "${target}" in spool/${state} has no Codex session id to resume`);
  return { kind: 'ok', spec, resumeSession: session };
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
