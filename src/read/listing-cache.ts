// spool/listing.cache: the finished states' listings (each job file's name and mtime), so that `status` need
// not list and order 10,000 finished jobs on every run. A state's listing is used only while its directory
// has the change stamp (inode, mtime, ctime) it was listed under: placing or removing a file changes the
// directory's mtime. A listing is saved only when its directory's mtime is QUIET_NS older than a file
// made before the listing (the file system's clock, which another NFS host may not share with ours): any
// change during or after the listing then gets a later mtime however coarse the timestamps (2 s on FAT), so
// none can hide behind an equal stamp (git's "racy" index entries). Like finished.log a cache: never synced,
// any failure to read or write it costs only the listing; a forged one can make status show a wrong list,
// as any user who can write to the spool can, never read a file outside it (listing.ts checks the names it shows).
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { readSmallFileSync } from '../spool/atomic-file.js';
import { FINISHED_STATES, type FinishedState, type SpoolLayout } from '../spool/layout.js';
import { randomHex } from '../util/random.js';

/** A directory untouched this long before the listing started may be cached (FAT's mtimes step by 2 s). */
const QUIET_NS = 3_000_000_000n;
const MAX_CACHE_BYTES = 64 * 1024 * 1024;

/** A finished state's job files: names and mtimes side by side (in the cache: oldest first). */
export interface CachedListing {
  names: string[];
  mtimes: ArrayLike<number>;
}

interface Stamp {
  key: string;
  mtimeNs: bigint;
}

const stampOf = (dir: string): Stamp | null => {
  const st = statSync(dir, { bigint: true, throwIfNoEntry: false });
  return st ? { key: `${st.dev}:${st.ino}:${st.mtimeNs}:${st.ctimeNs}`, mtimeNs: st.mtimeNs } : null;
};

/** One status run's view of the cache: what it may take from it, and what it may give back. */
export interface ListingCache {
  /** The cached listing of `state`, if its directory has not changed since it was listed. */
  hit(state: FinishedState): CachedListing | null;
  /**
   * `list()`, a whole listing of `state` (no id left out), kept if the directory was quiet and stays so. The
   * reference file is made before the first such listing of a run, the check's relisting included.
   */
  listed<T extends CachedListing | null>(state: FinishedState, list: () => T): T;
  /** Writes what was offered and proven, in one file with the hits; never throws. */
  save(): void;
}

/** The cache as this run finds it: read, and every finished state's directory stamped. */
export function openListingCache(layout: SpoolLayout): ListingCache {
  const stored = readCache(layout.listingCache);
  const before = Object.fromEntries(FINISHED_STATES.map((s) => [s, stampOf(layout.dir(s))])) as Record<FinishedState, Stamp | null>;
  // Decoded only for a directory that still has its stamp: while jobs are being filed, none has.
  const decoded: Partial<Record<FinishedState, CachedListing | null>> = {};
  const valid = (s: FinishedState) => {
    const c = stored[s];
    if (!c || before[s]?.key !== c.stamp) return null;
    if (!(s in decoded)) decoded[s] = decode(c);
    return decoded[s] ?? null;
  };
  // A file made before a listing: its mtime is "now" on the file system's clock. Made only when a directory
  // about to be listed looks quiet on our clock, once (null: none, as in a spool this user cannot write to).
  let ref: { fd: number; path: string; mtimeNs: bigint } | null | undefined;
  const quietSince = BigInt(Date.now() - 1) * 1_000_000n - QUIET_NS;
  const makeRef = () => {
    const path = `${layout.listingCache}.${process.pid}.${randomHex(4)}.tmp`;
    try {
      const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
      ref = { fd, path, mtimeNs: fstatSync(fd, { bigint: true }).mtimeNs };
    } catch {
      ref = null;
    }
  };
  const offered: Partial<Record<FinishedState, CachedListing>> = {};
  return {
    hit: valid,
    listed: (state, list) => {
      const b = before[state];
      if (ref === undefined && b && b.mtimeNs < quietSince) makeRef();
      const listing = list();
      if (listing && ref && b && b.mtimeNs + QUIET_NS <= ref.mtimeNs) offered[state] = listing;
      return listing;
    },
    save: () => {
      const made = ref;
      ref = null; // and none made after: nothing listed later is offered
      if (!made) return;
      const { fd, path, mtimeNs } = made;
      let written = false;
      quietly(() => {
        const out: Partial<Record<FinishedState, StoredListing>> = {};
        for (const s of FINISHED_STATES) {
          const stamp = before[s]?.key;
          const listing = offered[s] && stampOf(layout.dir(s))?.key === stamp ? offered[s] : valid(s);
          if (stamp && listing) out[s] = store(stamp, listing);
        }
        if (Object.keys(out).length === 0) return;
        writeSync(fd, JSON.stringify(out));
        written = true;
      });
      quietly(() => closeSync(fd));
      // rename fails where something it cannot replace (a directory) holds the cache's name
      quietly(() => (written ? renameSync(path, layout.listingCache) : unlinkSync(path)));
      quietly(() => existsSync(path) && unlinkSync(path));
      quietly(() => removeStaleTemps(layout.listingCache, mtimeNs));
    },
  };
}

/** No status lists for an hour: a temp file that old is a killed one's (Ctrl-C, the OOM killer mid-listing). */
const STALE_NS = 3_600_000_000_000n;

/** Removes the temp files of killed status runs, judged on the file system's clock (`nowNs`: our reference file's mtime). */
function removeStaleTemps(cachePath: string, nowNs: bigint): void {
  const stem = `${basename(cachePath)}.`;
  for (const name of readdirSync(dirname(cachePath))) {
    const path = join(dirname(cachePath), name);
    const st =
      name.startsWith(stem) && /^\d+\.[0-9a-f]{8}\.tmp$/.test(name.slice(stem.length))
        ? lstatSync(path, { bigint: true, throwIfNoEntry: false })
        : undefined;
    if (st && st.mtimeNs + STALE_NS < nowNs) quietly(() => unlinkSync(path)); // another user's (sticky spool) stays
  }
}

/** Runs `f`, and goes on whatever it throws: the cache is never worth a failed status. */
function quietly(f: () => unknown): void {
  try {
    f();
  } catch {
    // a cache not read or not written costs only a listing
  }
}

/**
 * The file's form of a listing: the names joined by `/` (the one byte besides NUL no file name holds: a name
 * read back never has one, and a newline in a name is kept), the mtimes as a little-endian float64 array in
 * base64. Parsing 10,000 names and numbers as JSON arrays (and checking each) took 7 ms of a 60 ms status.
 */
interface StoredListing {
  stamp: string;
  names: string;
  mtimes: string;
}

/** A listing as stored, oldest first: status then picks the newest without sorting 10,000 mtimes. */
function store(stamp: string, l: CachedListing): StoredListing {
  const order = Array.from(l.names.keys()).sort((a, b) => l.mtimes[a]! - l.mtimes[b]!);
  return {
    stamp,
    names: order.map((i) => l.names[i]).join('/'),
    mtimes: Buffer.from(Float64Array.from(order, (i) => l.mtimes[i]!).buffer).toString('base64'),
  };
}

/** The cache's listings whose fields have the stored types, undecoded; {} if none. */
function readCache(path: string): Partial<Record<FinishedState, StoredListing>> {
  let data: unknown;
  try {
    data = JSON.parse(readSmallFileSync(path, MAX_CACHE_BYTES) ?? '{}');
  } catch {
    return {};
  }
  const out: Partial<Record<FinishedState, StoredListing>> = {};
  if (typeof data !== 'object' || data === null) return out;
  for (const s of FINISHED_STATES) {
    const c = (data as Record<string, Partial<StoredListing> | undefined>)[s];
    if (typeof c?.stamp === 'string' && typeof c.names === 'string' && typeof c.mtimes === 'string') out[s] = c as StoredListing;
  }
  return out;
}

/**
 * A stored listing as names and mtimes, or null if they do not pair up. A name is not checked here: only the
 * few status shows become paths, and listing.ts checks those (confirmed).
 */
function decode(c: StoredListing): CachedListing | null {
  const names = c.names === '' ? [] : c.names.split('/');
  const bytes = Buffer.from(c.mtimes, 'base64');
  if (bytes.length !== names.length * 8) return null;
  return { names, mtimes: new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)) };
}
