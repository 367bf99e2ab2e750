// `codex-spool resume`: queue a follow-up task that continues the Codex session of an earlier job (or any session).
import { Command } from 'commander';
import { layoutOf, withRoot } from '../cli/kit.js';
import { CliError, EXIT } from '../util/errors.js';
import { findJobOrFail } from '../spool/lookup.js';
import { SessionId } from '../spool/schema.js';
import { queueJob } from '../cli/queue-job.js';
import { jobIdOrLatest } from '../cli/session-jobs.js';
import { jobRepo, taskText } from '../cli/task-input.js';

export function resumeCommand(): Command {
  return withRoot(new Command('resume'))
    .description('queue a follow-up task in the Codex session of job ID (or session UUID), where it ran; waits for ID if it has not ended')
    .argument('[id]', 'the earlier job, or a Codex session id (default: the latest job this Claude Code session submitted)')
    .option('--task <text>', 'the follow-up prompt ("-": read it from stdin)')
    .option('--task-file <file>', 'read the follow-up prompt from a file')
    .option('--repo <dir>', 'where it runs (default: where the earlier job ran; for a session of no job here, the current directory)')
    .option('--force', "allow a --repo other than the earlier job's")
    .option('--id <id>', 'id of the new job (default: a new time-sorted id)')
    .option('--json', 'print the result as JSON')
    .action(
      async (
        given: string | undefined,
        opts: { task?: string; taskFile?: string; repo?: string; force?: boolean; id?: string; json?: boolean },
        cmd: Command,
      ) => {
        const layout = layoutOf(cmd);
        const task = await taskText(opts);
        const arg = given !== undefined && SessionId.safeParse(given).success ? given : await jobIdOrLatest(layout, given);
        // A session id is resumed as it is (the worker finds the job it belongs to); a job id must exist.
        const isSession = SessionId.safeParse(arg).success;
        const job = isSession ? null : await findJobOrFail(layout, arg);
        if (job?.state === 'rejected') throw new CliError(`${job.id} was rejected: nothing to resume`, EXIT.usage);
        const resume = job?.id ?? arg.toLowerCase();
        const repo = await jobRepo(layout, resume, opts.repo, Boolean(opts.force));
        await queueJob(layout, opts.id, { repo, task, resume }, Boolean(opts.json));
      },
    );
}
