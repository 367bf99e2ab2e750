// `codex-spool cancel`: a queued job ends cancelled at once; a running one is stopped by its worker.
import { writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import { CliError, EXIT, layoutOf, positiveInt, withRoot } from '../cli-kit.js';
import { cancelQueuedJob } from '../job-control.js';
import { findJobView, noSuchJob, parseJobIdArg } from '../job-lookup.js';
import { safeJson } from '../safe-text.js';
import type { SpoolLayout } from '../spool-layout.js';

export function cancelCommand(): Command {
  return withRoot(new Command('cancel'))
    .description('cancel a job: a queued one moves to spool/failed as cancelled; a running one has its Codex stopped (session kept)')
    .argument('<id>', 'job id')
    .option('--wait <seconds>', 'how long to wait for a running job to stop', positiveInt('--wait'), 60)
    .option('--json', 'print the result as JSON')
    .action(async (arg: string, opts: { wait: number; json?: boolean }, cmd: Command) => {
      const layout = layoutOf(cmd);
      const id = parseJobIdArg(arg);
      const outcome = await cancel(layout, id, opts.wait * 1000);
      process.stdout.write(opts.json ? `${safeJson({ id, ...outcome })}\n` : `${id} ${outcome.state}\n`);
      if (outcome.state === 'cancel requested') throw new CliError(`${id} is still stopping`, EXIT.pending);
    });
}

async function cancel(layout: SpoolLayout, id: string, waitMs: number): Promise<{ state: string }> {
  for (;;) {
    const job = await findJobView(layout, id);
    if (!job) throw noSuchJob([id]);
    if (job.state === 'inbox' || job.state === 'deferred') {
      if (await cancelQueuedJob(layout, id, job.state)) return { state: 'cancelled' };
      continue; // a worker claimed it meanwhile: cancel it as a running job
    }
    if (job.state !== 'active') throw new CliError(`${id} has already ended (spool/${job.state})`, EXIT.failed);
    // The worker that holds the job sees this file on its next pass and stops the run (SIGINT first).
    await writeFile(layout.cancelRequest(id), `${new Date().toISOString()}\n`);
    return waitUntilInactive(layout, id, waitMs);
  }
}

async function waitUntilInactive(layout: SpoolLayout, id: string, waitMs: number): Promise<{ state: string }> {
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const job = await findJobView(layout, id);
    if (job && job.state !== 'active') return { state: job.result?.status ?? job.state };
    await sleep(200);
  }
  return { state: 'cancel requested' };
}
