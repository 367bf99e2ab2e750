// `codex-spool status`: one line per job — its state, how long, where, which session, how it exited.
import { output } from '../util/output.js';
import { Command } from 'commander';
import { layoutOf, withRoot } from '../cli/kit.js';
import { CliError, EXIT } from '../util/errors.js';
import { factsOf, type JobFacts } from '../read/facts.js';
import { statusTable } from '../read/format.js';
import { factsOfEntries, statusSelection, type StateCounts } from '../read/listing.js';
import { findJobView, noSuchJob, parseJobIdArg } from '../spool/lookup.js';
import { safeJson } from '../util/safe-text.js';
import { isLocked } from '../spool/lock.js';
import { claudeSession, sessionJobIds } from '../cli/session-jobs.js';
import { JOB_STATES, type SpoolLayout } from '../spool/layout.js';
import { liveWorkers, workersLine } from '../worker/heartbeat.js';

interface StatusOptions {
  all?: boolean;
  last: number;
  json?: boolean;
}

const HELP = `
First a line naming the live workers of the root (\`no live worker on <root>\` when there is none).
Columns: ID STATE TIME REPO (last path segment) SESSION EXIT, and a note that says why: for a running job
what Codex is doing ("$ <command>", "agent: <message>", "waiting for network"); for a queued one when it
runs again and why it was queued again ("runs in 4m: transient failure: …", "recovered: …", "usage
limit: …", "waiting for job X", "waiting for its repo"); the reason of a rejection; a run's status when timed_out or cancelled.
TIME is how long a job has been queued since it was first submitted (inbox, deferred; rejected: since it
was written), running (active), or how long its run took (done, failed). Lines are cut at 100 bytes.
STATE \`stale\`: an active job no worker runs any more (its worker died); a live worker recovers it.
Without IDs: all queued and active jobs and the --last finished (done, failed, rejected), oldest first,
then a line of totals; run from a Claude Code session that submitted jobs, only that session's jobs
(--all: every job). Exit 0; 3 if an ID is not a job (the others are still shown).
--json: {"workers":[{pid,host,started,heartbeat,version,concurrency,proc_start}],"jobs":[{id,state,status,
repo,run_id,session_id,exit_code,age_seconds,elapsed_seconds,error,reason,not_before,activity,since,
stale (active only)}],"counts":{<state>:n},"omitted":n} (workers, counts and omitted only without IDs).`;

export function statusCommand(): Command {
  return withRoot(new Command('status'))
    .description('show jobs: state, age or elapsed time, repo, session id, exit code (one line each)')
    .argument('[ids...]', 'jobs to show (default: queued and active jobs, and the last finished ones)')
    .option('-n, --last <n>', 'finished jobs shown when no IDs are given', nonNegativeInt, 20)
    .option('--all', 'show every finished job (of every Claude session)')
    .option('--json', 'print one JSON document')
    .addHelpText('after', HELP)
    .action(async (args: string[], opts: StatusOptions, cmd: Command) => {
      const layout = layoutOf(cmd);
      if (args.length > 0) {
        const ids = args.map(parseJobIdArg);
        const views = await Promise.all(ids.map((id) => findJobView(layout, id)));
        const jobs = await Promise.all(views.flatMap((v) => (v ? [factsOf(layout, v)] : [])));
        const stale = await staleJobs(layout, jobs, (await liveWorkers(layout)).length > 0);
        output.out(
          opts.json ? `${safeJson({ jobs: jobs.map((f) => brief(f, stale)) })}\n` : lines(jobs.length ? statusTable(jobs, stale) : []),
        );
        const missing = ids.filter((_, i) => !views[i]);
        if (missing.length) throw noSuchJob(missing);
        return;
      }
      // In a Claude session, its own jobs: the ones it can act on, without the spool's other traffic.
      const session = opts.all ? null : claudeSession();
      const mine = session ? new Set(await sessionJobIds(layout, session)) : new Set<string>();
      const { shown, counts, omitted } = statusSelection(layout, mine.size ? mine : null, opts.all ? null : opts.last);
      const jobs = await factsOfEntries(layout, shown);
      const workers = await liveWorkers(layout);
      const stale = await staleJobs(layout, jobs, workers.length > 0);
      if (opts.json) {
        output.out(`${safeJson({ workers, jobs: jobs.map((f) => brief(f, stale)), counts, omitted })}\n`);
        return;
      }
      const table = jobs.length ? statusTable(jobs, stale) : [];
      const total = totals(counts, omitted) + (mine.size ? ' (this Claude session; --all: every job)' : '');
      output.out(lines([workersLine(workers, layout.root, Date.now()), ...table, total]));
    });
}

/** A job's facts without its final message (that is what `result` is for); an active job says whether it is stale. */
function brief(f: JobFacts, stale: ReadonlySet<string>): Omit<JobFacts, 'final_message'> & { stale?: boolean } {
  const { final_message: _, ...rest } = f;
  return f.state === 'active' ? { ...rest, stale: stale.has(f.id) } : rest;
}

/**
 * Active jobs no worker is running any more: no worker serves the root, or the job's claim lock has gone
 * stale (its worker died; the next live worker recovers it).
 */
async function staleJobs(layout: SpoolLayout, jobs: readonly JobFacts[], anyWorker: boolean): Promise<Set<string>> {
  const active = jobs.filter((f) => f.state === 'active').map((f) => f.id);
  const held = await Promise.all(active.map((id) => anyWorker && isLocked(layout.dir('active'), `${id}.json`)));
  return new Set(active.filter((_, i) => !held[i]));
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
