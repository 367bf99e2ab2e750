// The jobs a Claude Code session submitted, for the commands that act on "its latest job" when given no id.
// A session is known by $CLAUDE_CODE_SESSION_ID, which Claude Code sets for the commands its Bash tool runs;
// its jobs are its claims (claude/state.ts), each checked against the job it names.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { claimHolds, claimsDir, readClaim, sessionFileStem } from '../claude/state.js';
import { CliError, EXIT, ifMissing } from '../util/errors.js';
import { findJobView, parseJobIdArg } from '../spool/lookup.js';
import { JobId } from '../spool/schema.js';
import type { SpoolLayout } from '../spool/layout.js';

/** The Claude Code session this command runs in, if any. */
export function claudeSession(env: NodeJS.ProcessEnv = process.env): string | null {
  return env.CLAUDE_CODE_SESSION_ID || null;
}

/** The ids of the jobs `session` submitted that still exist as it submitted them, the latest claim first. */
export async function sessionJobIds(layout: SpoolLayout, session: string, limit = Infinity): Promise<string[]> {
  const stem = sessionFileStem(session);
  if (!stem) return [];
  const ids: string[] = [];
  for (const id of await claimedIds(layout, stem)) {
    if (ids.length >= limit) break;
    if (claimHolds(readClaim(layout.root, stem, id), (await findJobView(layout, id))?.record)) ids.push(id);
  }
  return ids;
}

/** The job ids session `stem` has claims on, the latest claim (by its file's mtime) first. */
async function claimedIds(layout: SpoolLayout, stem: string): Promise<string[]> {
  const dir = join(claimsDir(layout.root), stem);
  const names = (await readdir(dir).catch(ifMissing([]))).filter((n) => JobId.safeParse(n).success);
  const claims = await Promise.all(
    names.map(async (id) => ({ id, at: (await lstat(join(dir, id), { bigint: true }).catch(ifMissing(null)))?.mtimeNs ?? -1n })),
  );
  return claims.sort((a, b) => (a.at === b.at ? b.id.localeCompare(a.id) : a.at > b.at ? -1 : 1)).map((c) => c.id);
}

/**
 * The job a command means: the id given, else the latest job this Claude session submitted. Exit 2 without
 * an id outside a Claude session; 3 when the session has submitted no job that still exists.
 */
export async function jobIdOrLatest(layout: SpoolLayout, arg: string | undefined): Promise<string> {
  if (arg !== undefined) return parseJobIdArg(arg);
  const session = claudeSession();
  if (!session) throw new CliError('a job id is required (outside a Claude Code session)', EXIT.usage);
  const [latest] = await sessionJobIds(layout, session, 1);
  if (latest === undefined) throw new CliError('this Claude Code session has submitted no job: give a job id', EXIT.notFound);
  return latest;
}
