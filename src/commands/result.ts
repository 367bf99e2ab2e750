// `codex-spool result`: what one job came to, in a few hundred bytes plus Codex's final message.
import { output } from '../util/output.js';
import { Command } from 'commander';
import { layoutOf, withRoot } from '../cli/kit.js';
import { CliError, EXIT } from '../util/errors.js';
import { findJobOrFail } from '../spool/lookup.js';
import { formatResult, resultReport } from '../read/result-report.js';
import { safeJson } from '../util/safe-text.js';
import { jobIdOrLatest } from '../cli/session-jobs.js';

const HELP = `
Prints: status, exit code, elapsed time, token usage, each run when there were several (the latest 3:
status, elapsed, own tokens in/out), the worktree's branch, files changed, the command that continues
the session by hand (its session id is there; "session -" when there is none), the run's directory
(runs/<run-id>/: summary.json, events.jsonl, codex.log, last-message.txt, meta.json), then Codex's
final message.
Tokens: Codex counts usage per session, cumulatively. "session total" is the session's usage as of
this run (the whole resume chain so far); "this run" is that minus the total of the previous run of
the same session (the job's own earlier run, else the run of the job named by "resume", else the latest
earlier run of that session under runs/); "new session" when the run started the session (then both are
the same).
Exit: 0 succeeded; 1 failed, timed_out, cancelled or rejected; 3 no such job; 4 not finished yet
(its state is printed).
--json: {id,state,status,repo,run_id,session_id,exit_code,age_seconds,elapsed_seconds,final_message,
error,reason,since,usage:{run,session,basis,previous_run_id},files_changed:{count,paths},
resume_command,run_files:{dir,meta,events,log,last_message,summary},rejected_files:{job,error},
worktree:{path,branch},runs:[{run_id,status,elapsed_seconds,tokens}]}`;

export function resultCommand(): Command {
  return withRoot(new Command('result'))
    .description("a job's outcome: status, exit code, session, tokens, files changed, final message")
    .argument('[id]', 'job id (default: the latest job this Claude Code session submitted)')
    .option('--json', 'print one JSON document')
    .addHelpText('after', HELP)
    .action(async (arg: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const layout = layoutOf(cmd);
      const job = await findJobOrFail(layout, await jobIdOrLatest(layout, arg));
      const id = job.id;
      const report = await resultReport(layout, job);
      output.out(opts.json ? `${safeJson(report)}\n` : formatResult(report));
      if (report.status === null) throw new CliError(`job ${id} has not finished (${report.state})`, EXIT.pending);
      if (report.status !== 'succeeded') throw new CliError(`job ${id} did not succeed (${report.status})`, EXIT.failed);
    });
}
