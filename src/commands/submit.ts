// `codex-spool submit`: write one job (--task) or a batch of jobs (--batch) into the inbox atomically and return at once.
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { text } from 'node:stream/consumers';
import { Command, Option } from 'commander';
import { parseBatch } from '../batch.js';
import { formatBatchReport, submitBatch } from '../batch-submit.js';
import { CliError, EXIT, layoutOf, withRoot } from '../cli-kit.js';
import { Sandbox } from '../job-schema.js';
import { queueJob } from '../queued-output.js';
import type { SpoolLayout } from '../spool-layout.js';
import { noteIfNoWorker } from '../worker-heartbeat.js';

interface SubmitOptions {
  repo: string;
  task?: string;
  batch?: string;
  resume?: string;
  id?: string;
  model?: string;
  sandbox?: string;
  timeout?: string;
  worktree?: boolean;
  priority?: string;
  maxAttempts?: string;
  json?: boolean;
}

export function submitCommand(): Command {
  return withRoot(new Command('submit'))
    .description('queue a Codex task (--task) or a JSONL batch of jobs (--batch) and return at once')
    .option('--task <text>', 'the prompt for Codex (this or --batch is required)')
    .addOption(
      new Option('--batch <file>', 'JSON Lines, one job a line with its "id"; "-" for stdin. Ids already in the spool are skipped')
        .conflicts(['task', 'repo', 'resume', 'id', 'model', 'sandbox', 'timeout', 'worktree', 'priority', 'maxAttempts']),
    )
    .option('--repo <dir>', 'directory where Codex works', process.cwd())
    .option('--resume <session-or-job>', 'continue a Codex session: its id, or the id of an earlier job')
    .option('--id <id>', 'job id (default: a new time-sorted id)')
    .option('-m, --model <model>', 'Codex model')
    .addOption(new Option('-s, --sandbox <mode>', 'Codex sandbox').choices(Sandbox.options))
    .option('--timeout <seconds>', 'wall-clock limit for the run')
    .option('--worktree', 'run in a git worktree and branch of its own, beside other jobs on the repo')
    .option('--priority <n>', 'higher runs first (default 0)')
    .option('--max-attempts <n>', 'runs allowed for transient failures and interruptions (default 3)')
    .option('--json', 'print the result as JSON')
    .argument('[codex-args...]', 'extra arguments for `codex exec`, after --')
    .action(async (codexArgs: string[], opts: SubmitOptions, cmd: Command) => {
      const layout = layoutOf(cmd);
      if (opts.batch !== undefined) {
        if (codexArgs.length) throw new CliError('--batch takes no codex arguments: give each line its own "args"', EXIT.usage);
        return submitBatchFile(layout, opts.batch, Boolean(opts.json));
      }
      if (opts.task === undefined) throw new CliError('one of --task <text> or --batch <file> is required', EXIT.usage);
      const repo = resolve(opts.repo);
      if (!(await stat(repo).catch(() => null))?.isDirectory()) throw new CliError(`repo ${repo} is not a directory`, EXIT.usage);
      await queueJob(
        layout,
        opts.id,
        {
          repo,
          task: opts.task,
          resume: opts.resume,
          model: opts.model,
          sandbox: opts.sandbox,
          args: codexArgs.length ? codexArgs : undefined,
          timeout_s: numberOf(opts.timeout),
          worktree: opts.worktree,
          priority: numberOf(opts.priority),
          max_attempts: numberOf(opts.maxAttempts),
        },
        Boolean(opts.json),
      );
      await noteIfNoWorker(layout, 'the job waits until one starts');
    });
}

/** A numeric option as given, for the job schema to judge ("abc" becomes NaN and is refused there). */
const numberOf = (value: string | undefined) => (value === undefined ? undefined : Number(value));

/** --batch: every valid line submitted once; exit 2 if any line was invalid (the valid ones are still submitted). */
async function submitBatchFile(layout: SpoolLayout, file: string, json: boolean): Promise<void> {
  const input = await (file === '-' ? text(process.stdin) : readFile(file, 'utf8')).catch((err: Error) => {
    throw new CliError(`cannot read batch ${file === '-' ? 'from stdin' : file}: ${err.message}`, EXIT.usage);
  });
  const report = await submitBatch(layout, parseBatch(input));
  process.stdout.write(json ? `${JSON.stringify(report)}\n` : formatBatchReport(report));
  await noteIfNoWorker(layout, 'the jobs wait until one starts');
  if (report.invalid) throw new CliError(`${report.invalid} invalid line(s) in the batch`, EXIT.usage);
}
