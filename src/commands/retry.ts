// `codex-spool retry`: run a failed, cancelled or timed-out job again, as a new run.
import { output } from '../util/output.js';
import { Command } from 'commander';
import { layoutOf, withRoot } from '../cli/kit.js';
import { CliError, EXIT } from '../util/errors.js';
import { retryJob } from '../cli/control.js';
import { findJobOrFail } from '../spool/lookup.js';
import { queuedOutput } from '../cli/queue-job.js';

export function retryCommand(): Command {
  return withRoot(new Command('retry'))
    .description('queue a failed, cancelled or timed-out job again (same id, one more attempt)')
    .argument('<id>', 'job id')
    .option('--json', 'print the result as JSON')
    .action(async (arg: string, opts: { json?: boolean }, cmd: Command) => {
      const layout = layoutOf(cmd);
      const job = await findJobOrFail(layout, arg);
      const id = job.id;
      if (job.state !== 'failed') throw new CliError(`${id} is in spool/${job.state}: only failed jobs can be retried`, EXIT.usage);
      if (!job.record)
        throw new CliError(`${id}: spool/failed/${id}.json is no job record (not a regular JSON file): nothing to retry`, EXIT.usage);
      await retryJob(layout, id, job.record);
      output.out(queuedOutput(layout, id, Boolean(opts.json)));
    });
}
