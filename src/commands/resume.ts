// `codex-spool resume`: queue a follow-up task that continues the Codex session of an earlier job.
import { Command } from 'commander';
import { CliError, EXIT, layoutOf, withRoot } from '../cli-kit.js';
import { findJobOrFail } from '../job-lookup.js';
import { queueJob } from '../queued-output.js';
import { jobIdOrLatest } from '../session-jobs.js';

export function resumeCommand(): Command {
  return withRoot(new Command('resume'))
    .description('queue a follow-up task in the same Codex session as job ID (waits for ID if it has not ended)')
    .argument('[id]', 'the earlier job (default: the latest job this Claude Code session submitted)')
    .requiredOption('--task <text>', 'the follow-up prompt')
    .option('--id <id>', 'id of the new job (default: a new time-sorted id)')
    .option('--json', 'print the result as JSON')
    .action(async (arg: string | undefined, opts: { task: string; id?: string; json?: boolean }, cmd: Command) => {
      const layout = layoutOf(cmd);
      const job = await findJobOrFail(layout, await jobIdOrLatest(layout, arg));
      const repo = job.record?.repo;
      if (job.state === 'rejected' || typeof repo !== 'string') throw new CliError(`${job.id} was rejected: nothing to resume`, EXIT.usage);
      await queueJob(layout, opts.id, { repo, task: opts.task, resume: job.id }, Boolean(opts.json));
    });
}
