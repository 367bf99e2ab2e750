// Waiting for jobs to finish without polling the spool: watch the three directories a job ends in
// (depth 0) and stat only the waited jobs' files there; a slow re-check covers a missed watch event.
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { FINISHED_STATES } from './job-facts.js';
import { isJobFileName, jobIdOf, type SpoolLayout } from './spool-layout.js';

export interface WaitOptions {
  /** Give up after this long; undefined: wait for ever. */
  timeoutMs?: number;
  /** Re-check every job this often even without a watch event. Default 2000. */
  recheckMs?: number;
}

/** Resolves once each id has a file in done/, failed/ or rejected/, or at the timeout: the ids still unfinished. */
export function waitForJobs(layout: SpoolLayout, ids: readonly string[], opts: WaitOptions = {}): Promise<string[]> {
  const pending = new Set(ids);
  const watchers = new Map<string, FSWatcher>();
  let timers: NodeJS.Timeout[] = [];
  let checking: Promise<void> | null = null;
  let again = new Set<string>();

  return new Promise<string[]>((resolve) => {
    const finish = () => {
      for (const w of watchers.values()) w.close();
      watchers.clear();
      for (const t of timers) clearTimeout(t);
      timers = [];
      resolve([...ids].filter((id) => pending.has(id)));
    };
    // One check at a time; ids asked for meanwhile are checked right after it.
    const check = (which: Iterable<string>) => {
      for (const id of which) if (pending.has(id)) again.add(id);
      if (checking) return;
      checking = (async () => {
        while (again.size) {
          const batch = [...again];
          again = new Set();
          const done = await Promise.all(batch.map((id) => hasFinished(layout, id)));
          batch.forEach((id, i) => done[i] && pending.delete(id));
        }
      })().finally(() => {
        checking = null;
        if (pending.size === 0) finish();
      });
    };
    const watchDirs = () => {
      for (const state of FINISHED_STATES) {
        const dir = layout.dir(state);
        if (watchers.has(dir)) continue;
        try {
          const w = watch(dir, { persistent: true }, (_event, name) => {
            if (typeof name !== 'string') check(pending); // the platform did not say which file
            else if (isJobFileName(name) && pending.has(jobIdOf(name))) check([jobIdOf(name)]);
          });
          w.on('error', () => (w.close(), watchers.delete(dir))); // the re-check goes on without it
          watchers.set(dir, w);
        } catch {
          // Not there yet (no job has ended in it): the re-check retries the watch.
        }
      }
    };
    watchDirs();
    check(pending); // after the watches are in place, so that nothing ends unseen in between
    const recheck = setInterval(() => (watchDirs(), check(pending)), opts.recheckMs ?? 2000);
    timers.push(recheck);
    if (opts.timeoutMs !== undefined) timers.push(setTimeout(finish, opts.timeoutMs));
  });
}

/** True if job `id` has a file in done/, failed/ or rejected/. */
export async function hasFinished(layout: SpoolLayout, id: string): Promise<boolean> {
  for (const state of FINISHED_STATES) if ((await stat(layout.job(state, id)).catch(() => null))?.isFile()) return true;
  return false;
}
