// Finding a job by id, wherever it is, for the commands that read or act on one job; and the one check of
// a job id given on the command line (it becomes a file name under spool/: it must never name a path).
import { lstatSync, type Stats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { CliError, EXIT, ifMissing } from '../util/errors.js';
import { quoted } from '../util/display.js';
import { JobId, JobResult, StoredJob, type RunSummary, type RunMeta } from './schema.js';
import { isRunName, readMeta, readSummary, runFiles } from './run-files.js';
import { JOB_STATES, type JobState, type SpoolLayout } from './layout.js';
import { readJson, readJsonSync } from './json-file.js';

/** One job as found on disk. */
export interface JobView {
  id: string;
  state: JobState;
  path: string;
  /** The job file as read back (null when it is not a JSON object, e.g. a rejected file, or not a regular file). */
  record: StoredJob | null;
  /** The run that holds (active) or held (done/failed) the job, if any. */
  runId: string | null;
  result: JobResult | null;
  mtimeMs: number;
}

/**
 * The job `id` in whichever state holds it, or null. Whatever holds its name there is the job, as the worker
 * and `submit --id` see it: a FIFO, a link or a directory too (not read; the worker rejects it), never "no such job".
 */
export async function lookupJob(layout: SpoolLayout, id: string, states: readonly JobState[] = JOB_STATES): Promise<JobView | null> {
  for (const state of states) {
    const path = layout.job(state, id);
    const st = await lstat(path).catch(ifMissing(null));
    if (st) return viewOf(id, state, path, st, st.isFile() ? await readJson(path, StoredJob) : null);
  }
  return null;
}

/**
 * lookupJob in one state, for a short process that reads a few jobs (status): synchronous calls, none of the
 * thread pool's start and hand-offs (a third of what status spent reading the 20 jobs it shows).
 */
export function lookupJobSync(layout: SpoolLayout, id: string, state: JobState): JobView | null {
  const path = layout.job(state, id);
  const st = lstatSync(path, { throwIfNoEntry: false });
  return st ? viewOf(id, state, path, st, st.isFile() ? readJsonSync(path, StoredJob) : null) : null;
}

function viewOf(id: string, state: JobState, path: string, st: Stats, record: StoredJob | null): JobView {
  const result = JobResult.safeParse(record?.result);
  const named = result.success ? result.data.run_id : record?.run_id;
  const runId = isRunName(named) ? named : null;
  return { id, state, path, record, runId, result: result.success ? result.data : null, mtimeMs: st.mtimeMs };
}

/**
 * Which of two files of one id is the job, for every command that reads or acts on a job by id (and for
 * `status`' listing). done/failed first: a finished file is the truth, even in the instant its active copy
 * still exists; then the live job, active before deferred (a job moves active → deferred by link, then
 * unlink); the inbox after them: an inbox file with a live job's id is another job, to be rejected as a
 * duplicate; rejected last: a rejected id may have been queued again since.
 */
export const LOOKUP_ORDER = ['done', 'failed', 'active', 'deferred', 'inbox', 'rejected'] as const satisfies readonly JobState[];

/**
 * lookupJob in LOOKUP_ORDER, asked twice when the first answer is "nowhere": a job that moved between
 * two of its stat calls (active → inbox, or active → done) is missed once, not twice in a row.
 */
export async function findJobView(layout: SpoolLayout, id: string): Promise<JobView | null> {
  return (await lookupJob(layout, id, LOOKUP_ORDER)) ?? lookupJob(layout, id, LOOKUP_ORDER);
}

/**
 * A job id from the command line, checked against the JobId schema before it goes near a path (no `/`,
 * no leading `.`, no control character); else the one usage error (exit 2), the argument escaped.
 */
export function parseJobIdArg(arg: string): string {
  const parsed = JobId.safeParse(arg);
  if (!parsed.success) throw new CliError(`invalid job id ${quoted(arg)}: ${parsed.error.issues[0]!.message}`, EXIT.usage);
  return parsed.data;
}

/** The one "unknown job" error (exit 3); `ids` have passed parseJobIdArg. */
export function noSuchJob(ids: readonly string[]): CliError {
  return new CliError(`no such job: ${ids.join(', ')}`, EXIT.notFound);
}

/** The job a command-line argument names, wherever it is: exit 2 for a malformed id, 3 for an unknown one. */
export async function findJobOrFail(layout: SpoolLayout, arg: string): Promise<JobView> {
  const id = parseJobIdArg(arg);
  const job = await findJobView(layout, id);
  if (!job) throw noSuchJob([id]);
  return job;
}

/** The meta.json of a job's run, or null. */
export function runMetaOf(layout: SpoolLayout, job: JobView): Promise<RunMeta | null> {
  return job.runId ? readMeta(runFiles(layout.runs, job.runId)) : Promise.resolve(null);
}

/** The summary.json of a job's run, or null. */
export function runSummaryOf(layout: SpoolLayout, job: JobView): Promise<RunSummary | null> {
  return job.runId ? readSummary(runFiles(layout.runs, job.runId)) : Promise.resolve(null);
}
