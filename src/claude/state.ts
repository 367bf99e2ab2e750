// codex-spool's Claude Code state, in one directory of the spool that is plainly its own:
//
//   spool/.codex-spool-claude/seen/<session>.json      what the session's hook has told it (claude/hook.ts)
//   spool/.codex-spool-claude/claims/<session>/<id>    written by `submit`/`resume` run from that session
//
// A claim is how a job comes under "Submitted from this session": only codex-spool's own submit writes it,
// from $CLAUDE_CODE_SESSION_ID, and it holds the sha256 of the job's task (a review's target in words), so it names that job and no other
// (an id used again after a prune). What a job file says about its session is never trusted for this.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StoredJob } from '../spool/schema.js';
import { spoolLayout } from '../spool/layout.js';
import { readSmallFileSync } from '../spool/atomic-file.js';
import { jobPrompt } from '../codex/review.js';

export { seenDir, sessionFileStem } from './seen.js';
import { sessionFileStem } from './seen.js';

export function claimsDir(root: string): string {
  return join(spoolLayout(root).claudeState, 'claims');
}

/** What a claim file holds for a job with this task. */
function claimToken(task: string): string {
  return createHash('sha256').update(task).digest('hex');
}

const CLAIM_WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * Records that `session` submitted job `id` (just queued, so the id was free). One small file write on
 * submit's path; a session id unfit for a file name claims nothing.
 */
export async function recordClaim(root: string, session: string, id: string, task: string): Promise<void> {
  const stem = sessionFileStem(session);
  if (!stem) return;
  const dir = join(claimsDir(root), stem);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // Never through a link or into a FIFO put at that name (a shared spool's other users can write there).
  await writeFile(join(dir, id), `${claimToken(task)}\n`, { mode: 0o600, flag: CLAIM_WRITE_FLAGS });
}

/** The claim file of `session` (a file stem) on job `id`, or undefined: never opens anything but a small regular file. */
export function readClaim(root: string, stem: string, id: string): string | undefined {
  return readSmallFileSync(join(claimsDir(root), stem, id), 1024)?.trim();
}

/** True when `claim` (a claim file's content) names the job whose file, as read back, is `record`. Pure. */
export function claimHolds(claim: string | undefined, record: StoredJob | null | undefined): boolean {
  if (claim === undefined || !record) return false;
  if (record.task !== undefined) return claimToken(record.task) === claim;
  return record.review !== undefined && claimToken(jobPrompt({ review: record.review })) === claim;
}
