// Every job of the spool from directory listings, and which of them `status` shows. A finished job's mtime
// comes from spool/finished.log when it vouches for it (spool/finished-log.ts), else from an lstat: 10,000
// lstats cost more than node's whole start. Synchronous on purpose: an lstat loop beats as many promises.
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { factsOf, listedView, type JobFacts } from './facts.js';
import { readFinishedLog, type LoggedMtimes } from '../spool/finished-log.js';
import { LOOKUP_ORDER, lookupJob } from '../spool/lookup.js';
import { DEFAULT_MAX_JOB_BYTES } from '../spool/schema.js';
import { JOB_STATES, isFinished, isJobFileName, isRejectionOf, jobIdOf, type JobState, type SpoolLayout } from '../spool/layout.js';
import { isMissing } from '../util/errors.js';

/** A job file as listed: nothing of it is read. */
interface JobEntry {
  id: string;
  state: JobState;
  path: string;
  mtimeMs: number;
  /**
   * A regular file small enough to be a job: safe to open (never a FIFO, a symlink, a huge file). null: not
   * lstat'ed yet (its mtime is the log's), see confirmed.
   */
  readable: boolean | null;
}

/**
 * The job files of `states`, one entry per id. Of two files of one id (a job that moved while they were
 * listed, or an inbox file with a live job's id), the one LOOKUP_ORDER puts first, as `status ID` shows it.
 * `logged`: the mtimes finished.log vouches for; every other file is lstat'ed.
 */
export function listJobEntries(
  layout: SpoolLayout,
  states: readonly JobState[] = JOB_STATES,
  logged: Partial<LoggedMtimes> = {},
): JobEntry[] {
  const byId = new Map<string, JobEntry>();
  for (const state of JOB_STATES.filter((s) => states.includes(s))) {
    const dir = layout.dir(state);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (err) {
      if (isMissing(err)) continue; // a state directory nobody has created yet
      throw err;
    }
    const jobNames = names.filter(isJobFileName);
    const present = state === 'rejected' ? new Set(jobNames) : null;
    const mtimes = isFinished(state) ? logged[state] : undefined;
    for (const name of jobNames) {
      if (present && isRejectionOf(name, present)) continue;
      const path = `${dir}/${name}`; // path.join normalizes: 10,000 of them cost 30 ms
      const mtimeMs = mtimes?.get(name);
      const st = typeof mtimeMs === 'number' ? null : lstatSync(path, { throwIfNoEntry: false });
      if (st === undefined) continue; // moved on since the listing
      const id = jobIdOf(name);
      const seen = byId.get(id);
      if (seen && LOOKUP_ORDER.indexOf(seen.state) < LOOKUP_ORDER.indexOf(state)) continue;
      byId.set(
        id,
        st ? { id, state, path, mtimeMs: st.mtimeMs, readable: isReadable(st) } : { id, state, path, mtimeMs: mtimeMs!, readable: null },
      );
    }
  }
  return [...byId.values()];
}

/** status and the Claude hook list every finished job: a rejected 10 MiB junk file is not read each time. */
const isReadable = (st: Stats) => st.isFile() && st.size <= DEFAULT_MAX_JOB_BYTES;

/**
 * The entries with every log-given mtime checked by an lstat; null if a file has gone or has another mtime
 * than the log said (then the order they were picked in may be wrong: list again without the log).
 */
function confirmed(entries: readonly JobEntry[]): JobEntry[] | null {
  const out: JobEntry[] = [];
  for (const e of entries) {
    if (e.readable !== null) out.push(e);
    else {
      const st = lstatSync(e.path, { throwIfNoEntry: false });
      if (st?.mtimeMs !== e.mtimeMs) return null;
      out.push({ ...e, readable: isReadable(st) });
    }
  }
  return out;
}

/**
 * What `status` shows of the jobs `keep` accepts (see selectForStatus), ordered by the mtimes finished.log
 * vouches for and lstats for the rest: the same order as with an lstat of every file, which it falls back
 * to if a job it would show does not have the mtime the log gave.
 */
export function statusSelection(layout: SpoolLayout, keep: (e: JobEntry) => boolean, lastFinished: number | null): StatusSelection {
  const select = (logged?: LoggedMtimes) => selectForStatus(listJobEntries(layout, JOB_STATES, logged).filter(keep), lastFinished);
  const fast = select(readFinishedLog(layout));
  const shown = confirmed(fast.shown);
  return shown ? { ...fast, shown } : select();
}

/** Jobs per state. */
export type StateCounts = Record<JobState, number>;

interface StatusSelection {
  /** Finished jobs (oldest first), then active, deferred and inbox jobs (each oldest first). */
  shown: JobEntry[];
  counts: StateCounts;
  /** Finished jobs left out by the limit. */
  omitted: number;
}

/** All queued and active jobs plus the `lastFinished` most recently finished (null: all of them). */
export function selectForStatus(entries: readonly JobEntry[], lastFinished: number | null): StatusSelection {
  const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as StateCounts;
  const byState = Object.fromEntries(JOB_STATES.map((s) => [s, [] as JobEntry[]])) as Record<JobState, JobEntry[]>;
  for (const e of entries) {
    counts[e.state]++;
    byState[e.state].push(e);
  }
  const finished = [...byState.done, ...byState.failed, ...byState.rejected];
  const keep = lastFinished === null ? finished.sort(byAge) : newest(finished, lastFinished);
  return {
    shown: [...keep, ...byState.active.sort(byAge), ...byState.deferred.sort(byAge), ...byState.inbox.sort(byAge)],
    counts,
    omitted: finished.length - keep.length,
  };
}

const byAge = (a: JobEntry, b: JobEntry) => a.mtimeMs - b.mtimeMs || (a.id < b.id ? -1 : 1);

/**
 * The `n` newest of `entries`, oldest first. Only those at or above the n-th newest mtime are sorted by
 * byAge: a comparator sort of 10,000 entries costs a third of node's start, a typed array's sort a tenth of it.
 * The typed array is filled by a loop: Float64Array.from(entries, fn) goes through the iterator protocol,
 * which made selectForStatus 1.7x slower on 10,000 entries in a process's first (unoptimized) run.
 */
function newest(entries: JobEntry[], n: number): JobEntry[] {
  if (entries.length <= n) return entries.sort(byAge);
  const mtimes = new Float64Array(entries.length);
  for (let i = 0; i < entries.length; i++) mtimes[i] = entries[i]!.mtimeMs;
  mtimes.sort();
  const cut = mtimes[mtimes.length - n] ?? Number.POSITIVE_INFINITY; // n = 0: nothing
  const top = entries.filter((e) => e.mtimeMs >= cut).sort(byAge);
  return top.slice(top.length - n); // ties at the cut: byAge's order by id decides, as in a full sort
}

/** The facts of listed jobs, reading each job's file (and its meta or error file) only now, a few at a time. */
export async function factsOfEntries(layout: SpoolLayout, entries: readonly JobEntry[], now = Date.now()): Promise<JobFacts[]> {
  const out: JobFacts[] = new Array(entries.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < entries.length; i = next++) {
      const e = entries[i]!;
      const view = e.readable ? await lookupJob(layout, e.id, [e.state]) : null;
      out[i] = await factsOf(layout, view ?? listedView(e.id, e.state, e.path, e.mtimeMs), now);
    }
  };
  await Promise.all(Array.from({ length: Math.min(32, entries.length) }, worker));
  return out;
}
