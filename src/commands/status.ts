// `codex-spool status`: one line per job — its state, how long, where, which session, how it exited.
import { Command } from 'commander';
import { CliError, EXIT, layoutOf, withRoot } from '../cli-kit.js';
import { factsOf, type JobFacts } from '../job-facts.js';
import { statusTable } from '../job-format.js';
import { factsOfEntries, listJobEntries, selectForStatus, type StateCounts } from '../job-listing.js';
import { findJobView, noSuchJob, parseJobIdArg } from '../job-lookup.js';
import { safeJson } from '../safe-text.js';
import { JOB_STATES } from '../spool-layout.js';

interface StatusOptions {
  all?: boolean;
  last: number;
  json?: boolean;
}

const HELP = `
Columns: ID STATE TIME REPO (last path segment) SESSION EXIT, and a note that says why: for a running job
what Codex is doing ("$ <command>", "agent: <message>", "waiting for network"); for a queued one when it
runs again and why it was queued again ("runs in 4m: transient failure: …", "recovered: …", "usage
limit: …", "waiting for job X", "waiting for its repo"); the reason of a rejection; a run's status when timed_out or cancelled.
TIME is how long a job has been queued since it was first submitted (inbox, deferred; rejected: since it
was written), running (active), or how long its run took (done, failed). Lines are cut at 100 bytes.
Without IDs: all queued and active jobs and the --last finished (done, failed, rejected), oldest first,
then a line of totals. Exit 0; 3 if an ID is not a job (the others are still shown).
--json: {"jobs":[{id,state,status,repo,run_id,session_id,exit_code,age_seconds,elapsed_seconds,error,
reason,not_before,activity,since}],"counts":{<state>:n},"omitted":n} (counts and omitted only without IDs).`;

export function statusCommand(): Command {
  return withRoot(new Command('status'))
    .description('show jobs: state, age or elapsed time, repo, session id, exit code (one line each)')
    .argument('[ids...]', 'jobs to show (default: queued and active jobs, and the last finished ones)')
    .option('-n, --last <n>', 'finished jobs shown when no IDs are given', nonNegativeInt, 20)
    .option('--all', 'show every finished job')
    .option('--json', 'print one JSON document')
    .addHelpText('after', HELP)
    .action(async (args: string[], opts: StatusOptions, cmd: Command) => {
      const layout = layoutOf(cmd);
      if (args.length > 0) {
        const ids = args.map(parseJobIdArg);
        const views = await Promise.all(ids.map((id) => findJobView(layout, id)));
        const jobs = await Promise.all(views.flatMap((v) => (v ? [factsOf(layout, v)] : [])));
        process.stdout.write(opts.json ? `${safeJson({ jobs: jobs.map(brief) })}\n` : lines(jobs.length ? statusTable(jobs) : []));
        const missing = ids.filter((_, i) => !views[i]);
        if (missing.length) throw noSuchJob(missing);
        return;
      }
      const { shown, counts, omitted } = selectForStatus(listJobEntries(layout), opts.all ? null : opts.last);
      const jobs = await factsOfEntries(layout, shown);
      if (opts.json) {
        process.stdout.write(`${safeJson({ jobs: jobs.map(brief), counts, omitted })}\n`);
        return;
      }
      process.stdout.write(lines([...(jobs.length ? statusTable(jobs) : []), totals(counts, omitted)]));
    });
}

/** A job's facts without its final message (that is what `result` is for). */
function brief(f: JobFacts): Omit<JobFacts, 'final_message'> {
  const { final_message: _, ...rest } = f;
  return rest;
}

function totals(counts: StateCounts, omitted: number): string {
  const parts = JOB_STATES.filter((s) => counts[s] > 0).map((s) => `${counts[s]} ${s}`);
  const total = parts.length ? `jobs: ${parts.join(', ')}` : 'no jobs';
  return omitted > 0 ? `${total}; ${omitted} older finished not shown (--all)` : total;
}

const lines = (ls: string[]) => (ls.length ? `${ls.join('\n')}\n` : '');

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new CliError(`--last must be a whole number, got "${value}"`, EXIT.usage);
  return n;
}
