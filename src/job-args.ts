// Job ids given on the command line: checked so that they can never name a path, then found.
import { CliError, EXIT } from './cli-kit.js';
import { findJobView } from './job-facts.js';
import type { JobView } from './job-lookup.js';
import type { SpoolLayout } from './spool-layout.js';

/**
 * The id, if it can be a job file's stem (no `/`, not starting with `.`); else a usage error. Looser
 * than JobId on purpose: rejected files keep names that JobId refuses (`has space`, `same~1`).
 */
export function jobIdArg(id: string): string {
  if (!id || id.length > 255 || id.includes('/') || id.includes('\0') || id.startsWith('.')) {
    throw new CliError(`invalid job id "${id}"`, EXIT.usage);
  }
  return id;
}

/** The job `id` wherever it is, or a "no such job" error (exit 3). */
export async function findJobOrFail(layout: SpoolLayout, id: string): Promise<JobView> {
  const job = await findJobView(layout, jobIdArg(id));
  if (!job) throw new CliError(`no such job: ${id}`, EXIT.notFound);
  return job;
}
