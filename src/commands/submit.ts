// `codex-spool submit`: write one job (--task) or a batch of jobs (--batch) into the inbox atomically and return at once.
import { output } from '../util/output.js';
import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { Command, Option } from 'commander';
import { parseBatch } from '../spool/batch.js';
import { formatBatchReport, submitBatch } from '../cli/batch-submit.js';
import { duration, integer, layoutOf, loadPolicyOrFail, positiveInt, withRoot } from '../cli/kit.js';
import { CliError, EXIT } from '../util/errors.js';
import { DURATION_FORMS } from '../util/duration.js';
import { MAX_TIMEOUT_S, Sandbox } from '../spool/schema.js';
import { queueJob } from '../cli/queue-job.js';
import { parseReviewOption } from '../codex/review.js';
import type { SpoolLayout } from '../spool/layout.js';
import { jobRepo, taskText } from '../cli/task-input.js';
import { noteIfNoWorker } from '../worker/heartbeat.js';

interface SubmitOptions {
  repo?: string;
  task?: string;
  review?: string;
  taskFile?: string;
  force?: boolean;
  batch?: string;
  resume?: string;
  id?: string;
  model?: string;
  sandbox?: string;
  timeout?: number;
  worktree?: boolean;
  priority?: number;
  maxAttempts?: number;
  json?: boolean;
}

export function submitCommand(): Command {
  return withRoot(new Command('submit'))
    .description('queue a Codex task (--task) or a JSONL batch of jobs (--batch) and return at once')
    .option('--task <text>', 'the prompt for Codex ("-": read it from stdin); this, --task-file, --review or --batch is required')
    .option('--task-file <file>', 'read the prompt from a file')
    .option('--review <target>', 'a Codex code review instead of a task: uncommitted, base:BRANCH or commit:SHA')
    .addOption(
      new Option(
        '--batch <file>',
        'JSON Lines, one job a line with its "id"; "-" for stdin. Ids already in the spool are skipped',
      ).conflicts([
        'task',
        'taskFile',
        'review',
        'repo',
        'resume',
        'force',
        'id',
        'model',
        'sandbox',
        'timeout',
        'worktree',
        'priority',
        'maxAttempts',
      ]),
    )
    .option('--repo <dir>', "directory where Codex works (default: the resumed job's, else the current directory)")
    .option('--resume <session-or-job>', 'continue a Codex session: its id, or the id of an earlier job (runs where that job ran)')
    .option('--force', "with --resume: allow a --repo other than the resumed job's")
    .option('--id <id>', 'job id (default: a new time-sorted id)')
    .option('-m, --model <model>', 'Codex model')
    .addOption(new Option('-s, --sandbox <mode>', 'Codex sandbox').choices(Sandbox.options))
    .option(
      '--timeout <seconds>',
      `wall-clock limit for the run: seconds, or ${DURATION_FORMS}`,
      duration('--timeout', 's', MAX_TIMEOUT_S * 1000),
    )
    .option('--worktree', 'run in a git worktree and branch of its own, beside other jobs on the repo')
    .option('--priority <n>', 'higher runs first (an integer, default 0)', integer('--priority'))
    .option('--max-attempts <n>', 'runs allowed for transient failures and interruptions (default 3)', positiveInt('--max-attempts'))
    .option('--json', 'print the result as JSON')
    .argument('[codex-args...]', 'extra arguments for `codex exec`, after --')
    .action(async (codexArgs: string[], opts: SubmitOptions, cmd: Command) => {
      const layout = layoutOf(cmd);
      if (opts.batch !== undefined) {
        if (codexArgs.length) throw new CliError('--batch takes no codex arguments: give each line its own "args"', EXIT.usage);
        return submitBatchFile(layout, opts.batch, Boolean(opts.json));
      }
      const review = opts.review === undefined ? undefined : parseReviewOption(opts.review);
      if (review === null) throw new CliError('--review takes uncommitted, base:BRANCH or commit:SHA', EXIT.usage);
      // A review takes no task: one given beside it is passed on for the schema to refuse.
      const task = review === undefined || opts.task !== undefined || opts.taskFile !== undefined ? await taskText(opts) : undefined;
      const repo = await jobRepo(layout, opts.resume, opts.repo, Boolean(opts.force));
      await queueJob(
        layout,
        opts.id,
        {
          repo,
          task,
          review,
          resume: opts.resume,
          model: opts.model,
          sandbox: opts.sandbox,
          args: codexArgs.length ? codexArgs : undefined,
          timeout_s: opts.timeout === undefined ? undefined : opts.timeout / 1000,
          worktree: opts.worktree,
          priority: opts.priority,
          max_attempts: opts.maxAttempts,
        },
        Boolean(opts.json),
      );
      await noteIfNoWorker(layout, 'the job waits until one starts');
    });
}

/** --batch: every valid line submitted once; exit 2 if any line was invalid (the valid ones are still submitted). */
async function submitBatchFile(layout: SpoolLayout, file: string, json: boolean): Promise<void> {
  const input = await (file === '-' ? text(process.stdin) : readFile(file, 'utf8')).catch((err: Error) => {
    throw new CliError(`cannot read batch ${file === '-' ? 'from stdin' : file}: ${err.message}`, EXIT.usage);
  });
  const policy = await loadPolicyOrFail(layout.root);
  const report = await submitBatch(layout, parseBatch(input), policy);
  output.out(json ? `${JSON.stringify(report)}\n` : formatBatchReport(report));
  await noteIfNoWorker(layout, 'the jobs wait until one starts');
  if (report.invalid) throw new CliError(`${report.invalid} invalid line(s) in the batch`, EXIT.usage);
}
