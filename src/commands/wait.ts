// `codex-spool wait`: block, silently, until jobs end; then one result line per job.
import { output } from '../util/output.js';
import { Command } from 'commander';
import { duration, layoutOf, withRoot } from '../cli/kit.js';
import { CliError, EXIT } from '../util/errors.js';
import { DURATION_FORMS } from '../util/duration.js';
import { MAX_TIMER_MS } from '../util/timer-bounds.js';
import { factsOf } from '../read/facts.js';
import { resultLine } from '../read/format.js';
import { findJobView, lookupJob, noSuchJob, parseJobIdArg } from '../spool/lookup.js';
import { waitForJobs } from '../read/wait.js';
import { safeJson } from '../util/safe-text.js';
import { noteIfNoWorker } from '../worker/heartbeat.js';
import { jobIdOrLatest } from '../cli/session-jobs.js';
import { FINISHED_STATES, isFinished } from '../spool/layout.js';

interface WaitOptions {
  /** ms */
  timeout?: number;
  json?: boolean;
}

const HELP = `
Prints nothing until every job has ended (done, failed or rejected), then one line per job:
  <id> <status> exit=<code> <elapsed> <session id> <final message (or error), first 200 chars>
On --timeout, jobs not finished show their state instead of a status, and what they are doing (running)
or why they wait (queued).
Exit: 0 all succeeded; 1 any did not; 3 an ID is not a job (nothing is waited for), or its job file was
removed while waited for (the other jobs are still waited for and shown); 124 timed out.
--json: {"jobs":[{id,state,status,repo,run_id,session_id,exit_code,age_seconds,elapsed_seconds,
final_message,error,reason,not_before,activity,since}],"timed_out":bool} (final messages whole).`;

export function waitCommand(): Command {
  return withRoot(new Command('wait'))
    .description('wait until jobs end, then print one result line each')
    .argument('[ids...]', 'job ids (default: the latest job this Claude Code session submitted)')
    .option(
      '--timeout <seconds>',
      `give up after this long (exit 124): seconds, or ${DURATION_FORMS}`,
      duration('--timeout', 's', MAX_TIMER_MS),
    )
    .option('--json', 'print one JSON document')
    .addHelpText('after', HELP)
    .action(async (args: string[], opts: WaitOptions, cmd: Command) => {
      const layout = layoutOf(cmd);
      const ids = args.length ? [...new Set(args.map(parseJobIdArg))] : [await jobIdOrLatest(layout, undefined)];
      const found = await Promise.all(ids.map((id) => findJobView(layout, id)));
      const missing = ids.filter((_, i) => !found[i]);
      if (missing.length) throw noSuchJob(missing);
      if (found.some((v) => !isFinished(v!.state))) await noteIfNoWorker(layout, 'nothing queued will finish until one starts');

      const { unfinished, gone } = await waitForJobs(layout, ids, { timeoutMs: opts.timeout });
      const jobs = await Promise.all(
        ids
          .flatMap((id, i) => (gone.includes(id) ? [] : [{ id, i }]))
          .map(async ({ id, i }) => {
            const view = (await lookupJob(layout, id, FINISHED_STATES)) ?? (await findJobView(layout, id)) ?? found[i]!;
            return factsOf(layout, view);
          }),
      );
      output.out(opts.json ? `${safeJson({ jobs, timed_out: unfinished.length > 0 })}\n` : jobs.map((f) => `${resultLine(f)}\n`).join(''));
      if (gone.length) throw new CliError(`no longer in the spool (its job file was removed): ${gone.join(', ')}`, EXIT.notFound);
      if (unfinished.length)
        throw new CliError(`timed out after ${opts.timeout! / 1000}s; not finished: ${unfinished.join(', ')}`, EXIT.timeout);
      const failed = jobs.filter((f) => f.status !== 'succeeded');
      if (failed.length) throw new CliError(`did not succeed: ${failed.map((f) => `${f.id} (${f.status})`).join(', ')}`, EXIT.failed);
    });
}
