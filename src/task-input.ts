// What submit and resume read from the command line for one job: its prompt (inline, from a file or
// stdin: long prompts) and the repo it works in (a follow-up's comes from the job it continues).
import { readFile, realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { text } from 'node:stream/consumers';
import { CliError, EXIT } from './cli-kit.js';
import { lookupJob } from './job-lookup.js';
import { SessionId } from './job-schema.js';
import { activeJobOfSession, resumedJob } from './resume-place.js';
import type { SpoolLayout } from './spool-layout.js';

/** The prompt: `--task TEXT`, `--task -` (stdin) or `--task-file FILE`; exactly one of them. */
export async function taskText(opts: { task?: string; taskFile?: string }): Promise<string> {
  if (opts.task !== undefined && opts.taskFile !== undefined) throw new CliError('give --task or --task-file, not both', EXIT.usage);
  const file = opts.taskFile ?? (opts.task === '-' ? '-' : undefined);
  if (file === undefined) {
    if (opts.task === undefined) throw new CliError('one of --task, --task-file, --review or --batch is required', EXIT.usage);
    return opts.task;
  }
  return (file === '-' ? text(process.stdin) : readFile(file, 'utf8')).catch((err: Error) => {
    throw new CliError(`cannot read the task ${file === '-' ? 'from stdin' : `from ${file}`}: ${err.message}`, EXIT.usage);
  });
}

/**
 * The repo a job works in. A follow-up (`resume` naming a job of this spool, by its id or its session)
 * works where that job did: `--repo` may be left out, and a different one is refused unless `force`.
 * Otherwise `--repo`, else the current directory.
 */
export async function jobRepo(layout: SpoolLayout, resume: string | undefined, given: string | undefined, force: boolean): Promise<string> {
  const target = resume === undefined ? null : await resumedRepo(layout, resume);
  const repo = given !== undefined ? resolve(given) : (target?.repo ?? process.cwd());
  if (!(await stat(repo).catch(() => null))?.isDirectory()) throw new CliError(`repo ${repo} is not a directory`, EXIT.usage);
  if (target && !force && (await realpath(repo)) !== (await realpath(target.repo).catch(() => target.repo))) {
    throw new CliError(`job ${target.id} ran in ${target.repo}, not ${repo}: leave --repo out to continue there, or --force`, EXIT.usage);
  }
  return repo;
}

/** The job `resume` names (finished, or still queued or running) and its repo; null if none. */
async function resumedRepo(layout: SpoolLayout, resume: string): Promise<{ id: string; repo: string } | null> {
  const job = SessionId.safeParse(resume).success
    ? ((await resumedJob(layout, resume)) ?? (await activeJobOfSession(layout, resume)))
    : await lookupJob(layout, resume, ['done', 'failed', 'inbox', 'deferred', 'active']);
  const repo = job?.record?.repo;
  return job && typeof repo === 'string' ? { id: job.id, repo } : null;
}
