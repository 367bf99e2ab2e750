// `codex-spool retry`: run a failed, cancelled or timed-out job again, as a new run.
import { output } from '../util/output.js';
import { Command } from 'commander';
import { layoutOf, withRoot } from '../cli/kit.js';
import { retryJob } from '../cli/control.js';
import { parseJobIdArg } from '../spool/lookup.js';
import { queuedOutput } from '../cli/queue-job.js';

export function retryCommand(): Command {
  return withRoot(new Command('retry'))
    .description('queue a failed, cancelled or timed-out job again (same id, one more attempt)')
    .argument('<id>', 'job id')
    .option('--json', 'print the result as JSON')
    .action(async (arg: string, opts: { json?: boolean }, cmd: Command) => {
      const layout = layoutOf(cmd);
      const id = parseJobIdArg(arg);
      await retryJob(layout, id);
      output.out(queuedOutput(layout, id, Boolean(opts.json)));
    });
}
