// runs/<run-id>/: one directory per Codex run, holding everything it produced.
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { RunMeta, RunSummary, type RunFiles, MAX_FINAL_MESSAGE_BYTES } from './schema.js';
import { syncDir, writeJsonNote } from './atomic-file.js';
import { openRegular } from '../util/regular-file.js';
import { readJson } from './json-file.js';
import { randomHex } from '../util/random.js';

/** A run id that sorts by start time: `20261125-071500-<8 hex>` (UTC). */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${randomHex(4)}`;
}

/**
 * Whether `name`, read from a job file, can name a run: one directory under runs/, never a path (a forged
 * `../x` would lead a reader out of runs/; runs/.clock.* are the liveness clock's probes). Pure.
 */
export const isRunName = (name: unknown): name is string => typeof name === 'string' && /^[^./\\\0][^/\\\0]*$/.test(name); // never `.`, `..` or a dotfile (runs/.clock.*)

/** The paths of a run's files (pure). */
export function runFiles(runsDir: string, runId: string): RunFiles {
  const dir = join(runsDir, runId);
  return {
    dir,
    meta: join(dir, 'meta.json'),
    events: join(dir, 'events.jsonl'),
    log: join(dir, 'codex.log'),
    last_message: join(dir, 'last-message.txt'),
    summary: join(dir, 'summary.json'),
  };
}

/**
 * Creates the run directory, private to the worker's user: it holds prompts and Codex output. Not
 * recursive: runs/ exists from the worker's start, and a missing or unwritable one is an error to report.
 * `alongside` (the run's first files) is written while runs/ is synced; both are done when it resolves.
 */
export async function createRunDir(files: RunFiles, alongside: () => Promise<void> = async () => undefined): Promise<void> {
  await mkdir(files.dir, { mode: 0o700 });
  // The sync keeps a power loss from dropping the run directory, meta.json and all. Settled both before a
  // throw: a write still under way could land after the caller has moved on.
  const done = await Promise.allSettled([syncDir(dirname(files.dir)), alongside()]);
  for (const d of done) if (d.status === 'rejected') throw d.reason;
}

/**
 * The run's meta.json as a progress note (atomic, not synced: see writeJsonNote). The meta a run ends with
 * is written durably with its summary when the job is filed or queued again.
 */
export function writeMeta(files: RunFiles, meta: RunMeta): Promise<void> {
  return writeJsonNote(files.meta, meta);
}

/** The run's meta.json, or null when it is not there (yet) or not a RunMeta. */
export function readMeta(files: RunFiles): Promise<RunMeta | null> {
  return readJson(files.meta, RunMeta);
}

/** The run's summary.json, or null when it is not there (yet) or not a RunSummary. */
export function readSummary(files: RunFiles): Promise<RunSummary | null> {
  return readJson(files.summary, RunSummary);
}

/**
 * The last agent message Codex wrote with `-o`, or null when it wrote none (empty on a failed turn).
 * Only its head is read (Codex's output has no size limit); the summary cuts it and names the file.
 */
export async function readLastMessage(files: RunFiles, maxBytes = MAX_FINAL_MESSAGE_BYTES + 4): Promise<string | null> {
  const file = (await openRegular(files.last_message))?.file; // a FIFO or a link there is no message: never waited on
  if (!file) return null;
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(maxBytes), 0, maxBytes, 0);
    return bytesRead === 0 ? null : buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await file.close();
  }
}
