// `codex-spool cancel`: a queued job ends cancelled at once; a running one is stopped by its worker.
import { output } from '../util/output.js';
import { Command, Option } from 'commander';
import { PENDING_RUN, withdrawCancelRequest, writeCancelRequest } from '../spool/cancel-request.js';
import { duration, layoutOf, withRoot } from '../cli/kit.js';
import { CliError, EXIT } from '../util/errors.js';
import { DURATION_FORMS } from '../util/duration.js';
import { MAX_TIMER_MS } from '../util/timer-bounds.js';
import { cancelQueuedJob } from '../cli/control.js';
import { finishedStatus } from '../read/facts.js';
import { findJobView, noSuchJob, type JobView } from '../spool/lookup.js';
import { jobFileChanges, pollUntil } from '../read/wait.js';
import { safeJson } from '../util/safe-text.js';
import { jobIdOrLatest } from '../cli/session-jobs.js';
import { isFinished, type SpoolLayout } from '../spool/layout.js';

const HELP = `
Prints "<id> cancelled" once the job has ended cancelled. Exit: 0 cancelled; 1 the job had already ended
(or ended otherwise while the request was on its way: "<id> had already ended: <status>"); 3 no such
job; 4 still stopping after --wait ("<id> cancel requested": its worker stops it soon).`;

export function cancelCommand(): Command {
  return withRoot(new Command('cancel'))
    .description('cancel a job: a queued one moves to spool/failed as cancelled; a running one has its Codex stopped (session kept)')
    .argument('[id]', 'job id (default: the latest job this Claude Code session submitted)')
    .addOption(
      new Option('--wait <seconds>', `how long to wait for a running job to stop: seconds, or ${DURATION_FORMS}`)
        .argParser(duration('--wait', 's', MAX_TIMER_MS))
        .default(60_000, '60'), // the value is ms; --help shows it as the option reads it
    )
    .option('--json', 'print the result as JSON')
    .addHelpText('after', HELP)
    .action(async (arg: string | undefined, opts: { wait: number /* ms */; json?: boolean }, cmd: Command) => {
      const layout = layoutOf(cmd);
      const id = await jobIdOrLatest(layout, arg);
      const state = await cancel(layout, id, Date.now() + opts.wait);
      output.out(opts.json ? `${safeJson({ id, state })}\n` : `${id} ${state}\n`);
      if (state === 'cancel requested') throw new CliError(`${id} is still stopping`, EXIT.pending);
    });
}

/** Cancels job `id`: `cancelled`, or `cancel requested` if its run has not stopped by the deadline. */
async function cancel(layout: SpoolLayout, id: string, deadline: number): Promise<'cancelled' | 'cancel requested'> {
  for (;;) {
    const job = await findJobView(layout, id);
    if (!job) throw noSuchJob([id]);
    if (job.state === 'inbox' || job.state === 'deferred') {
      if (await cancelQueuedJob(layout, id, job.state)) return 'cancelled';
      continue; // a worker claimed it meanwhile: cancel it as a running job
    }
    if (job.state !== 'active') throw alreadyEnded(job);
    // The worker that holds the job sees the request on its next pass and stops that run (SIGINT first).
    const run = job.runId ?? PENDING_RUN;
    const request = await writeCancelRequest(layout, id, run);
    // Checked again after the write: a run that ended just before it must not leave the request behind.
    const after = await pollUntil(
      async () => {
        const now = await findJobView(layout, id);
        return now?.state === 'active' && (run === PENDING_RUN || now.runId === run) ? null : { now };
      },
      { ...jobFileChanges(layout, id), recheckMs: 200, timeoutMs: Math.max(0, deadline - Date.now()) },
    );
    if (!after) return 'cancel requested'; // still running: the request stays for its worker
    await withdrawCancelRequest(layout, id, request);
    const { now } = after;
    if (now && isFinished(now.state)) {
      if (finishedStatus(now) === 'cancelled') return 'cancelled';
      throw alreadyEnded(now);
    }
    // Queued again (re-queued or deferred by its worker), or between two states: look again.
  }
}

/** The job ended other than by this cancel: say how, exit 1. */
function alreadyEnded(job: JobView): CliError {
  return new CliError(`${job.id} had already ended: ${finishedStatus(job)}`, EXIT.failed);
}
