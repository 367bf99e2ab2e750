// The readable log of a job's run (runs/<run-id>/events.jsonl): all of it at once, or following the
// run as it grows until the job leaves spool/active.
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { errorLine, renderEvent, renderLog } from './event-render.js';
import { findJobView, runSummaryOf, type JobView } from '../spool/lookup.js';
import { LineTail } from '../util/file-tail.js';
import { jobFileChanges, pollUntil } from './wait.js';
import { isRunName, runFiles } from '../spool/run-files.js';
import type { SpoolLayout } from '../spool/layout.js';
import { ifMissing } from '../util/errors.js';

interface JobLogOptions {
  /** Wait for a queued job to start, then print events as they come until the job leaves active/. */
  follow: boolean;
  /** Receives each display line. */
  emit(line: string): void;
}

/** How often a followed job's state and run are looked at when no change was seen. */
const RECHECK_MS = 250;

/**
 * Emits the display lines of job `id`'s run, then, for a finished run, the errors its summary holds
 * that no event showed (time limit, cancellation, errors Codex printed only on stderr).
 * Returns the job as it is at the end (null: no such job), for the caller to report its state.
 */
export async function emitJobLog(layout: SpoolLayout, id: string, opts: JobLogOptions): Promise<JobView | null> {
  let job = await findJobView(layout, id);
  // A queued job (or one claimed but not started yet) has no run to show: wait for it to have one.
  const waitingForRun = (j: JobView | null) => j && !j.runId && (j.state === 'inbox' || j.state === 'deferred' || j.state === 'active');
  if (opts.follow && waitingForRun(job)) {
    job = await pollUntil(
      async () => {
        const now = await findJobView(layout, id);
        return waitingForRun(now) ? null : { now };
      },
      { ...jobFileChanges(layout, id), recheckMs: RECHECK_MS },
    ).then((found) => found!.now);
  }
  if (!job) return job;
  // A job queued again (interrupted, retried, deferred) has no run now: its latest run so far is what it did.
  const runId = job.runId ?? (opts.follow ? null : latestEarlierRun(job));
  if (!runId) return job;
  const shown = new Set<string>();
  const emit = (line: string) => (shown.add(line), opts.emit(line));
  const repo = job.record?.repo ?? null;
  const files = runFiles(layout.runs, runId);
  const tail = new LineTail(files.events);
  const following = opts.follow && job.state === 'active';
  const first = await tail.read();
  for (const line of renderLog(following ? first : [...first, ...tail.rest()], { repo })) emit(line);
  if (following) {
    const activePath = layout.job('active', id);
    await pollUntil(
      async () => {
        // Look at the state first: once the job has left active/, the events file is complete.
        const left = !(await stat(activePath).catch(ifMissing(null)));
        const lines = await tail.read();
        if (left) lines.push(...tail.rest());
        for (const line of lines) {
          const shownLine = renderEvent(line, { repo });
          if (shownLine !== null) emit(shownLine);
        }
        return left ? true : null;
      },
      {
        dirs: [files.dir, layout.dir('active')],
        relevant: (name) => name === basename(files.events) || name === `${id}.json`,
        recheckMs: RECHECK_MS,
      },
    );
    job = (await findJobView(layout, id)) ?? job;
  }
  const summary = job.state === 'done' || job.state === 'failed' ? await runSummaryOf(layout, job) : null;
  for (const error of summary?.errors ?? []) {
    const line = errorLine(error);
    if (!shown.has(line)) emit(line);
  }
  return job;
}

/** The latest of a job's earlier runs (`runs`, oldest first), or null. */
export function latestEarlierRun(job: JobView): string | null {
  const last = job.record?.runs?.at(-1);
  return isRunName(last) ? last : null;
}
