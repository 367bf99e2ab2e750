// spool/active/<id>.cancel: a request to cancel one run of one job. Its first line names that run (the
// run_id of active/<id>.json when the request was made, or `pending` when the job had no run yet), so a
// request left behind can never cancel a later run of the same id; the second line tells requests apart.
import { randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { readSmallFile, writeFileAtomic } from './atomic-file.js';
import type { SpoolLayout } from './layout.js';
import { ifMissing } from '../util/errors.js';

/** A cancel request is one short line or two; a larger file is not one. */
export const MAX_CANCEL_BYTES = 4096;

/** The first line of a request made before the job's run had an id: it asks to cancel whatever run the claim starts. */
export const PENDING_RUN = 'pending';

/** The run a request's text names (its first line), or null for text that names none. Pure. */
export function requestedRun(text: string): string | null {
  const first = text.split('\n', 1)[0]!.trim();
  return first === '' ? null : first;
}

/** True if a request naming `requested` applies to an active job whose run is `runId` (null: not started). Pure. */
export function requestApplies(requested: string | null, runId: string | null): boolean {
  return requested === PENDING_RUN || (requested !== null && requested === runId);
}

/** Writes the request to cancel run `runId` (or PENDING_RUN) of job `id`; returns the exact text written. */
export async function writeCancelRequest(layout: SpoolLayout, id: string, runId: string): Promise<string> {
  const text = `${runId}\n${new Date().toISOString()} pid ${process.pid} ${randomBytes(4).toString('hex')}\n`;
  await writeFileAtomic(layout.cancelRequest(id), text);
  return text;
}

/** Removes job `id`'s request if it still holds `text` (a later request, from another cancel, is kept). */
export async function withdrawCancelRequest(layout: SpoolLayout, id: string, text: string): Promise<boolean> {
  const path = layout.cancelRequest(id);
  if ((await readSmallFile(path, MAX_CANCEL_BYTES)) !== text) return false;
  return unlink(path).then(() => true, ifMissing(false));
}

/** Whether a request applies to run `runId` of job `id` (a request left over from another run never does). */
export async function cancelRequested(layout: SpoolLayout, id: string, runId: string | null): Promise<boolean> {
  const text = await readSmallFile(layout.cancelRequest(id), MAX_CANCEL_BYTES);
  return text !== null && requestApplies(requestedRun(text), runId);
}
