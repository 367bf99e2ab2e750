// Finding a job by id, wherever it is, for the commands that read or act on one job.
import { readFile, stat } from 'node:fs/promises';
import { JobResult, RunSummary, type RunMeta } from './job-schema.js';
import { readMeta, runFiles } from './run-files.js';
import { JOB_STATES, type JobState, type SpoolLayout } from './spool-layout.js';

/** One job as found on disk. */
export interface JobView {
  id: string;
  state: JobState;
  path: string;
  /** The job file's JSON (null when it is not JSON, e.g. a rejected file). */
  record: Record<string, unknown> | null;
  /** The run that holds (active) or held (done/failed) the job, if any. */
  runId: string | null;
  result: JobResult | null;
  mtimeMs: number;
}

/** The job `id` in whichever state holds it, or null. */
export async function lookupJob(layout: SpoolLayout, id: string, states: readonly JobState[] = JOB_STATES): Promise<JobView | null> {
  for (const state of states) {
    const path = layout.job(state, id);
    const st = await stat(path).catch(() => null);
    if (!st?.isFile()) continue;
    const record = parseObject(await readFile(path, 'utf8').catch(() => ''));
    const result = JobResult.safeParse(record?.result);
    const runId = result.success ? result.data.run_id : typeof record?.run_id === 'string' ? record.run_id : null;
    return { id, state, path, record, runId, result: result.success ? result.data : null, mtimeMs: st.mtimeMs };
  }
  return null;
}

/** The meta.json of a job's run, or null. */
export function runMetaOf(layout: SpoolLayout, job: JobView): Promise<RunMeta | null> {
  return job.runId ? readMeta(runFiles(layout.runs, job.runId)).catch(() => null) : Promise.resolve(null);
}

/** The summary.json of a job's run, or null. */
export async function runSummaryOf(layout: SpoolLayout, job: JobView): Promise<RunSummary | null> {
  if (!job.runId) return null;
  const text = await readFile(runFiles(layout.runs, job.runId).summary, 'utf8').catch(() => null);
  const parsed = RunSummary.safeParse(text === null ? null : parseObject(text));
  return parsed.success ? parsed.data : null;
}

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
