// `codex-spool logs`: a job's run, one short line per Codex event; -f follows it to its end.
import { output } from '../util/output.js';
import { Command } from 'commander';
import { layoutOf, withRoot } from '../cli/kit.js';
import { CliError, EXIT } from '../util/errors.js';
import { formatDuration, oneLine } from '../util/display.js';
import { factsOf } from '../read/facts.js';
import { emitJobLog, latestEarlierRun } from '../read/log.js';
import { noSuchJob } from '../spool/lookup.js';
import { jobIdOrLatest } from '../cli/session-jobs.js';

const HELP = `
Renders runs/<run-id>/events.jsonl of the job's (latest) run: "session <id>", "agent: <message>",
"$ <command> → exit <n>" (a command still running shows as "$ <command>"), "files: <kind> <path>, …",
"warning: …", "error: …", "turn failed: …", "turn completed; session tokens …"; long text is cut at
160 characters. A finished run ends with "end: <status> exit=<code> <elapsed>"; a running one with
"running <elapsed>" (what it printed so far is shown).
-f: wait for a queued job to start, print events as they come, stop when the job leaves spool/active.
A job queued again (interrupted, retried, deferred) shows its latest run so far.
Exit: 0 the job succeeded, or is running (without -f); 1 it did not (or was rejected); 3 no such job;
4 queued (no run yet, or queued again).`;

export function logsCommand(): Command {
  return withRoot(new Command('logs'))
    .description("a job's run as readable lines: agent messages, commands and exit codes, file changes, errors")
    .argument('[id]', 'job id (default: the latest job this Claude Code session submitted)')
    .option('-f, --follow', 'follow a queued or running job until it ends')
    .addHelpText('after', HELP)
    .action(async (arg: string | undefined, opts: { follow?: boolean }, cmd: Command) => {
      const layout = layoutOf(cmd);
      const id = await jobIdOrLatest(layout, arg);
      const emit = (line: string) => output.out(`${line}\n`);
      const job = await emitJobLog(layout, id, { follow: Boolean(opts.follow), emit });
      if (!job) throw noSuchJob([id]);
      const f = await factsOf(layout, job);
      if (f.state === 'active' && job.runId) {
        emit(`running ${formatDuration(f.elapsed_seconds)}`);
        return;
      }
      if (f.status === null && latestEarlierRun(job)) {
        throw new CliError(
          `job ${id} is queued again (${f.state}${f.reason ? `: ${f.reason}` : ''}): its latest run is above`,
          EXIT.pending,
        );
      }
      if (f.status === null) throw new CliError(`job ${id} has not started (${f.state}, no run yet)`, EXIT.pending);
      if (f.status === 'rejected') emit(oneLine(`rejected (${f.reason ?? '?'}): ${f.error ?? ''}`, 160));
      else emit(`end: ${f.status} exit=${f.exit_code ?? '-'} ${formatDuration(f.elapsed_seconds)}`);
      if (f.status !== 'succeeded') throw new CliError(`job ${id} did not succeed (${f.status})`, EXIT.failed);
    });
}
