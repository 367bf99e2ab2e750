// What submit and resume read from the command line for one job: its prompt (inline, from a file or
// stdin: long prompts) and the repo it works in (a follow-up's comes from the job it continues).
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { CliError, EXIT, ifMissing } from '../util/errors.js';
import { lookupJob } from '../spool/lookup.js';
import { MAX_JOB_BYTES, SessionId } from '../spool/schema.js';
import { activeJobOfSession, resumedJob } from '../spool/resume-place.js';
import type { SpoolLayout } from '../spool/layout.js';

/** The prompt: `--task TEXT`, `--task -` (stdin) or `--task-file FILE`; exactly one of them. */
export async function taskText(opts: { task?: string; taskFile?: string }): Promise<string> {
  if (opts.task !== undefined && opts.taskFile !== undefined) throw new CliError('give --task or --task-file, not both', EXIT.usage);
  const file = opts.taskFile ?? (opts.task === '-' ? '-' : undefined);
  if (file === undefined) {
    if (opts.task === undefined) throw new CliError('one of --task, --task-file, --review or --batch is required', EXIT.usage);
    return opts.task;
  }
  const from = file === '-' ? 'from stdin' : `from ${file}`;
  const bytes = await readAtMost(file === '-' ? process.stdin : createReadStream(file), MAX_JOB_BYTES).catch((err: Error) => {
    throw new CliError(`cannot read the task ${from}: ${err.message}`, EXIT.usage);
  });
  if (bytes === null) throw new CliError(`the task ${from} is over ${MAX_JOB_BYTES} bytes, more than any job may hold`, EXIT.usage);
  return bytes.toString('utf8');
}

/** A stream's bytes, or null as soon as they pass `limit` (an endless input such as /dev/zero is never read whole). */
async function readAtMost(stream: NodeJS.ReadableStream & { destroy(): void }, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      stream.destroy();
      return null;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * The repo a job works in. A follow-up (`resume` naming a job of this spool, by its id or its session)
 * works where that job did: `--repo` may be left out, and a different one is refused unless `force`.
 * Otherwise `--repo`, else the current directory.
 */
export async function jobRepo(layout: SpoolLayout, resume: string | undefined, given: string | undefined, force: boolean): Promise<string> {
  const target = resume === undefined ? null : await resumedRepo(layout, resume);
  const repo = given !== undefined ? resolve(given) : (target?.repo ?? process.cwd());
  if (!(await stat(repo).catch(ifMissing(null)))?.isDirectory()) throw new CliError(`repo ${repo} is not a directory`, EXIT.usage);
  if (
    target &&
    !force &&
    (await realpath(repo)) !== (await realpath(target.repo).catch(ifMissing(target.repo))) /* gone: compared as written */
  ) {
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
  return job && repo !== undefined ? { id: job.id, repo } : null;
}
