// Waiting for something in the spool to change, for `wait`, `cancel` and `logs -f`: one loop that checks
// at once when a watched directory changes (fs.watch, depth 0) and re-checks on a timer in case a watch
// event is missed (or the directory does not exist yet).
import { watch, type FSWatcher } from 'node:fs';
import { FINISHED_STATES, JOB_STATES, isFinished, isJobFileName, jobIdOf, type SpoolLayout } from '../spool/layout.js';
import { LOOKUP_ORDER } from '../spool/lookup.js';
import { findJob } from '../spool/moves.js';

interface PollOptions {
  /** Directories whose changes trigger a check at once. */
  dirs: readonly string[];
  /** Only changes to names it accepts trigger a check (an event without a name always does). Default: all. */
  relevant?: (name: string) => boolean;
  /** Check this often even without a change. */
  recheckMs: number;
  /** Give up after this long; undefined: never. */
  timeoutMs?: number;
}

/** Calls `check` until it returns something other than null, or until the timeout (then null). */
export async function pollUntil<T>(check: () => Promise<T | null>, opts: PollOptions): Promise<T | null> {
  const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
  const watchers = new Map<string, FSWatcher>();
  let changed = false;
  let wake = () => {};
  const onChange = (_event: string, name: string | Buffer | null) => {
    if (typeof name === 'string' && opts.relevant && !opts.relevant(name)) return;
    changed = true;
    wake();
  };
  const watchDirs = () => {
    for (const dir of opts.dirs) {
      if (watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: true }, onChange);
        w.on('error', () => (w.close(), watchers.delete(dir))); // the timer goes on without it
        watchers.set(dir, w);
      } catch {
        // Not there yet: the next round tries again.
      }
    }
  };
  try {
    for (;;) {
      watchDirs(); // before the check, so that nothing changes unseen in between
      changed = false;
      const value = await check();
      if (value !== null) return value;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      if (changed) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => resolve(), Math.min(opts.recheckMs, left));
        wake = () => (clearTimeout(timer), resolve());
      });
      wake = () => {};
    }
  } finally {
    for (const w of watchers.values()) w.close();
  }
}

/** Watch options for a change of job `id`'s file in any state (it moved, or was rewritten). */
export function jobFileChanges(layout: SpoolLayout, id: string): Pick<PollOptions, 'dirs' | 'relevant'> {
  return { dirs: JOB_STATES.map((s) => layout.dir(s)), relevant: (name) => name === `${id}.json` };
}

export interface WaitOptions {
  /** Give up after this long; undefined: wait for ever. */
  timeoutMs?: number;
  /** Re-check every job this often even without a watch event. Default 2000. */
  recheckMs?: number;
}

/** What `wait` asks of each job until it has ended, and the ids asked about. */
export interface WaitOutcome {
  /** Not ended at the timeout. */
  unfinished: string[];
  /** No longer in the spool (its file removed by hand while waited for): never to end. */
  gone: string[];
}

/** Resolves once each id has ended (see hasEnded) or is gone, or at the timeout. */
export async function waitForJobs(layout: SpoolLayout, ids: readonly string[], opts: WaitOptions = {}): Promise<WaitOutcome> {
  const pending = new Set(ids);
  const missedOnce = new Set<string>();
  const gone: string[] = [];
  await pollUntil(
    async () => {
      for (const id of pending) {
        const state = await hasEnded(layout, id);
        if (state === true) pending.delete(id);
        // Not found twice in a row: a file caught between two directories by a claim's rename is missed once.
        else if (state === null && missedOnce.has(id)) {
          pending.delete(id);
          gone.push(id);
        }
        if (state === null) missedOnce.add(id);
        else missedOnce.delete(id);
      }
      return pending.size === 0 ? true : null;
    },
    {
      dirs: FINISHED_STATES.map((s) => layout.dir(s)),
      relevant: (name) => isJobFileName(name) && pending.has(jobIdOf(name)),
      recheckMs: opts.recheckMs ?? 2000,
      timeoutMs: opts.timeoutMs,
    },
  );
  return { unfinished: ids.filter((id) => pending.has(id)), gone };
}

/**
 * True if job `id` has ended as `status ID` sees it: the first state in LOOKUP_ORDER that holds its name (any
 * file there: a FIFO, a link, a directory the worker rejected too) is done/, failed/ or rejected/. Not a
 * rejected file of an id queued again since (rejected/ comes last); an answer there is asked again, as a queued
 * file caught between two directories by a claim's rename is missed once, not twice in a row. Null: in no state.
 */
async function hasEnded(layout: SpoolLayout, id: string): Promise<boolean | null> {
  const state = await findJob(layout, id, LOOKUP_ORDER);
  if (state === null) return null;
  if (!isFinished(state)) return false;
  return state !== 'rejected' || (await findJob(layout, id, LOOKUP_ORDER)) === 'rejected';
}
