// Every job of the spool from directory listings, and which of them `status` shows. A finished directory's
// listing comes from spool/listing.cache while the directory is unchanged (listing-cache.ts); else a finished
// job's mtime comes from spool/finished.log when it vouches for it (spool/finished-log.ts), else from an
// lstat: 10,000 lstats cost more than node's whole start. Synchronous on purpose: an lstat loop beats as many
// promises.
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { factsOf, listedView, type JobFacts } from './facts.js';
import { openListingCache, type ListingCache } from './listing-cache.js';
import { readFinishedLog, type LoggedMtimes } from '../spool/finished-log.js';
import { LOOKUP_ORDER, lookupJobSync } from '../spool/lookup.js';
import { DEFAULT_MAX_JOB_BYTES } from '../spool/schema.js';
import {
  FINISHED_STATES,
  JOB_STATES,
  isFinished,
  type FinishedState,
  isJobFileName,
  isRejectionOf,
  jobIdOf,
  type JobState,
  type SpoolLayout,
} from '../spool/layout.js';
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
 * One state's job files as listed, side by side: a JobEntry is made only for a file that is shown (status
 * lists 10,000 finished jobs to show 20, and an object each made a third of its time, collector included).
 */
export interface StateListing {
  state: JobState;
  dir: string;
  names: string[];
  mtimes: ArrayLike<number>;
  readable: (boolean | null)[];
  /** Oldest first (a listing from the cache). */
  sorted: boolean;
}

/**
 * The job files of `states`, one per id, in LOOKUP_ORDER: of two files of one id (a job that moved while they
 * were listed, or an inbox file with a live job's id), the one LOOKUP_ORDER puts first, as `status ID` shows
 * it. `only`: the ids to list (null: all). `logged`: the mtimes finished.log vouches for; every other file is
 * lstat'ed. `cache`: finished states' listings to take while their directories are unchanged (`hits`), and
 * to give back when listed whole.
 */
export function listJobFiles(
  layout: SpoolLayout,
  states: readonly JobState[] = JOB_STATES,
  logged: Partial<LoggedMtimes> = {},
  only: ReadonlySet<string> | null = null,
  cache: { cache: ListingCache; hits: boolean } | null = null,
): StateListing[] {
  const out: StateListing[] = [];
  for (const state of LOOKUP_ORDER.filter((s) => states.includes(s))) {
    const dir = layout.dir(state);
    const hit = cache?.hits && isFinished(state) ? cache.cache.hit(state) : null;
    let l: StateListing | null;
    if (hit) l = { state, dir, ...hit, readable: new Array<null>(hit.names.length).fill(null), sorted: true };
    else {
      const list = () => listState(state, dir, isFinished(state) ? logged[state] : undefined, only);
      l = cache && !only && isFinished(state) ? cache.cache.listed(state as FinishedState, list) : list();
      if (!l) continue; // a state directory nobody has created yet
    }
    const taken = out.length > 0 ? shared(l.names, out) : null;
    out.push(taken?.size || (hit && only) ? keep(l, (name) => !taken?.has(name) && (!only || only.has(jobIdOf(name)))) : l);
  }
  return out;
}

/** One state's job files (null: no directory), with the mtime the log gives or an lstat's. */
function listState(
  state: JobState,
  dir: string,
  mtimes: Map<string, number | null> | undefined,
  only: ReadonlySet<string> | null,
): StateListing | null {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
  const present = state === 'rejected' ? new Set(names) : null;
  const l = { state, dir, names: [] as string[], mtimes: [] as number[], readable: [] as (boolean | null)[], sorted: false };
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (!isJobFileName(name) || (present && isRejectionOf(name, present))) continue;
    if (only && !only.has(jobIdOf(name))) continue;
    const mtimeMs = mtimes?.get(name);
    const st = typeof mtimeMs === 'number' ? null : lstatSync(`${dir}/${name}`, { throwIfNoEntry: false });
    if (st === undefined) continue; // moved on since the listing
    l.names.push(name);
    l.mtimes.push(st ? st.mtimeMs : mtimeMs!);
    l.readable.push(st ? isReadable(st) : null);
  }
  return l;
}

/**
 * The names both in `names` and in an earlier state's listing: a Set of the smaller side, the other walked
 * (most often a few failed jobs against 10,000 done: a Set of 10,000 names took 5-7 ms).
 */
function shared(names: readonly string[], earlier: readonly StateListing[]): Set<string> {
  const both = new Set<string>();
  if (names.length === 0) return both;
  const earlierCount = earlier.reduce((n, l) => n + l.names.length, 0);
  if (names.length <= earlierCount) {
    const mine = new Set(names);
    for (const l of earlier) for (let i = 0; i < l.names.length; i++) if (mine.has(l.names[i]!)) both.add(l.names[i]!);
  } else {
    const theirs = new Set(earlier.flatMap((l) => l.names));
    for (let i = 0; i < names.length; i++) if (theirs.has(names[i]!)) both.add(names[i]!);
  }
  return both;
}

/** The files of a listing whose name passes `pred`. */
function keep(l: StateListing, pred: (name: string) => boolean): StateListing {
  const k = { ...l, names: [] as string[], mtimes: [] as number[], readable: [] as (boolean | null)[] };
  for (let i = 0; i < l.names.length; i++) {
    if (!pred(l.names[i]!)) continue;
    k.names.push(l.names[i]!);
    k.mtimes.push(l.mtimes[i]!);
    k.readable.push(l.readable[i]!);
  }
  return k;
}

/** The i-th file of a state's listing as an entry. */
function entryAt(l: StateListing, i: number): JobEntry {
  const name = l.names[i]!;
  // path.join normalizes: 10,000 of them cost 30 ms
  return { id: jobIdOf(name), state: l.state, path: `${l.dir}/${name}`, mtimeMs: l.mtimes[i]!, readable: l.readable[i]! };
}

/** Every job file of `states` as an entry (see listJobFiles). */
export function listJobEntries(layout: SpoolLayout, states: readonly JobState[] = JOB_STATES): JobEntry[] {
  return listJobFiles(layout, states).flatMap((l) => l.names.map((_, i) => entryAt(l, i)));
}

/** status and the Claude hook list every finished job: a rejected 10 MiB junk file is not read each time. */
const isReadable = (st: Stats) => st.isFile() && st.size <= DEFAULT_MAX_JOB_BYTES;

/**
 * The entries with every mtime the log or the cache gave checked by an lstat; null if a file has gone or has
 * another mtime than they said (then the order they were picked in may be wrong: list again without them),
 * or if the cache gave a name that is no file of its directory (a forged cache must not make status read a
 * file elsewhere).
 */
function confirmed(entries: readonly JobEntry[]): JobEntry[] | null {
  const out: JobEntry[] = [];
  for (const e of entries) {
    if (e.readable !== null) out.push(e);
    else {
      // a name no readdir gives (a `/` or NUL, also in `.json`'s place: `../ab`): not one file of its directory
      if (/[/\0]/.test(e.id) || !e.path.endsWith(`/${e.id}.json`)) return null;
      const st = lstatSync(e.path, { throwIfNoEntry: false });
      if (st?.mtimeMs !== e.mtimeMs) return null;
      out.push({ ...e, readable: isReadable(st) });
    }
  }
  return out;
}

/**
 * What `status` shows of the jobs `only` names (null: all; see selectForStatus), ordered by the mtimes the
 * listing cache or finished.log gives and lstats for the rest: the same order as with an lstat of every file,
 * which it falls back to (and caches) if a job it would show does not have the mtime they gave.
 */
export function statusSelection(layout: SpoolLayout, only: ReadonlySet<string> | null, lastFinished: number | null): StatusSelection {
  const cache = openListingCache(layout);
  try {
    const hits = FINISHED_STATES.every((s) => cache.hit(s));
    const fast = selectForStatus(
      listJobFiles(layout, JOB_STATES, hits ? {} : readFinishedLog(layout), only, { cache, hits: true }),
      lastFinished,
    );
    const shown = confirmed(fast.shown);
    if (shown) return { ...fast, shown };
    // An mtime the log or the cache gave is wrong: every file lstat'ed, and the cache made again from that
    return selectForStatus(listJobFiles(layout, JOB_STATES, {}, only, { cache, hits: false }), lastFinished);
  } finally {
    cache.save();
  }
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
export function selectForStatus(listed: readonly StateListing[], lastFinished: number | null): StatusSelection {
  const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as StateCounts;
  for (const l of listed) counts[l.state] = l.names.length;
  const finished = listed.filter((l) => isFinished(l.state));
  const keep = newest(finished, lastFinished ?? Number.POSITIVE_INFINITY);
  const live = (state: JobState) =>
    newest(
      listed.filter((l) => l.state === state),
      Number.POSITIVE_INFINITY,
    );
  return {
    shown: [...keep, ...live('active'), ...live('deferred'), ...live('inbox')],
    counts,
    omitted: FINISHED_STATES.reduce((n, s) => n + counts[s], 0) - keep.length,
  };
}

const byAge = (a: JobEntry, b: JobEntry) => a.mtimeMs - b.mtimeMs || (a.id < b.id ? -1 : 1);

/**
 * The `n` newest files of `listed` (Infinity: all), oldest first. Entries are made and sorted by byAge only
 * for those at or above the n-th newest mtime: a comparator sort of 10,000 entries costs a third of node's
 * start, a typed array's sort a tenth of it.
 */
function newest(listed: readonly StateListing[], n: number): JobEntry[] {
  const total = listed.reduce((sum, l) => sum + l.names.length, 0);
  const cut =
    total <= n ? Number.NEGATIVE_INFINITY : listed.every((l) => l.sorted) ? nthNewestSorted(listed, n) : nthNewest(listed, total, n);
  const top: JobEntry[] = [];
  for (const l of listed) for (let i = 0; i < l.mtimes.length; i++) if (l.mtimes[i]! >= cut) top.push(entryAt(l, i));
  top.sort(byAge);
  return top.length > n ? top.slice(top.length - n) : top; // ties at the cut: byAge's order by id decides, as in a full sort
}

/** The n-th newest mtime of listings (n < their total; n = 0: +Infinity, nothing is that new). */
function nthNewest(listed: readonly StateListing[], total: number, n: number): number {
  // Index loops, not for-of: the iterator protocol is slow in a short process's first, unoptimized run.
  const mtimes = new Float64Array(total);
  let at = 0;
  for (const l of listed) for (let i = 0; i < l.mtimes.length; i++) mtimes[at++] = l.mtimes[i]!;
  mtimes.sort();
  return mtimes[total - n] ?? Number.POSITIVE_INFINITY;
}

/**
 * nthNewest of listings that are each oldest first: n steps back from their ends, no sort. Of listings out of
 * order (a forged cache) it gives a lower cut, never a higher one: newest sorts more entries, still right.
 */
function nthNewestSorted(listed: readonly StateListing[], n: number): number {
  const at = listed.map((l) => l.mtimes.length - 1);
  let cut = Number.POSITIVE_INFINITY;
  for (let k = 0; k < n; k++) {
    let best = -1;
    for (let j = 0; j < listed.length; j++)
      if (at[j]! >= 0 && (best < 0 || listed[j]!.mtimes[at[j]!]! > listed[best]!.mtimes[at[best]!]!)) best = j;
    cut = listed[best]!.mtimes[at[best]!]!;
    at[best]!--;
  }
  return cut;
}

/** The facts of listed jobs, reading each job's file only now (synchronously: a few), and its meta or error file a few at a time. */
export async function factsOfEntries(layout: SpoolLayout, entries: readonly JobEntry[], now = Date.now()): Promise<JobFacts[]> {
  const out: JobFacts[] = new Array(entries.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < entries.length; i = next++) {
      const e = entries[i]!;
      const view = e.readable ? lookupJobSync(layout, e.id, e.state) : null;
      out[i] = await factsOf(layout, view ?? listedView(e.id, e.state, e.path, e.mtimeMs), now);
    }
  };
  await Promise.all(Array.from({ length: Math.min(32, entries.length) }, worker));
  return out;
}
