// spool/finished.log: a cache of the mtimes of finished job files, so that `status` can order 10,000
// finished jobs without an lstat each. It is a CACHE, not a record: never fsynced, and a transition never
// fails because an append did; a reader lstats every file the log does not vouch for, so a lost or
// missing line only costs that lstat.
//
// One line per event: `<state>/<name> -` (a file is about to be placed at that name: vouch for nothing) or
// `<state>/<name> <mtimeMs>` (the file there now has this mtime). The LAST valid line of a name decides.
// Why the log never vouches for a wrong mtime (so status never shows a wrong order silently):
// - a filing appends `-` BEFORE it places the file and `<mtime>` (lstat'ed) AFTER: a crash in between, a
//   lost second line, or a name reused after its file went (retry, prune, rm by hand) leaves `-` last;
// - a removal appends nothing: a line of a name no longer present is never used, and the next file placed
//   there is preceded by its own `-`;
// - a failed append removes the log (so a disk that is full cannot freeze old lines in place);
// - a rebuild (prune) vouches only from its own lstats, made after it read the log, never for a name whose
//   last line was `-`, and re-appends as `-` every line written to the old file meanwhile (see rebuild).
// Only a `-` and its `<mtime>` both lost (e.g. two hosts appending over NFS, where O_APPEND is not atomic)
// with the name's old line left vouching could mislead it; the reader then still catches a wrong mtime among
// the jobs it shows (see read/listing.ts).
import { constants, type Stats } from 'node:fs';
import { appendFile, lstat, open, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { readSmallFileSync } from './atomic-file.js';
import { FINISHED_STATES, isJobFileName, isRejectionName, type FinishedState, type SpoolLayout } from './layout.js';
import { ifMissing } from '../util/errors.js';

/** A log larger than this is not read (status lstats instead); prune rewrites it far below. */
const MAX_LOG_BYTES = 64 * 1024 * 1024;

/** Readable by every user of the spool, as its job files are: it says no more than their names and mtimes. */
const LOG_MODE = 0o644;
// Never through a symbolic link: on a shared spool another user could point the log at a file of ours.
const APPEND_NO_FOLLOW = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW;
const READ_APPEND_NO_FOLLOW = constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW;

/** The log, opened to read and append; a symbolic link in its place is removed first, never followed. */
async function openLog(path: string) {
  try {
    return await open(path, READ_APPEND_NO_FOLLOW, LOG_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ELOOP') throw err;
    await unlink(path);
    return open(path, READ_APPEND_NO_FOLLOW, LOG_MODE);
  }
}

/** A valid line, anywhere in the log: matched in one pass over the text, not line by line (10,000 of them for status). */
const LINES = /(?<=^|\n)(done|failed|rejected)\/([^\s/]+) (-|\d+(?:\.\d+)?)(?=\n|$)/g;

/** The key of a finished file in the log: `<state>/<name>`, as its path below spool/ reads. */
const keyOf = (layout: SpoolLayout, path: string) => relative(layout.spool, path);

/** What the log says, by state then file name: the mtime vouched for, or null (`-`: vouch for nothing). */
export type LoggedMtimes = Record<FinishedState, Map<string, number | null>>;

/** The mtime each name's last line vouches for. Torn or foreign lines are skipped (pure). */
export function parseFinishedLog(text: string): LoggedMtimes {
  const out: LoggedMtimes = { done: new Map(), failed: new Map(), rejected: new Map() };
  for (const m of text.matchAll(LINES)) out[m[1] as FinishedState].set(m[2]!, m[3] === '-' ? null : Number(m[3]));
  return out;
}

/** The mtimes the log vouches for (none when there is no log or it is too large). */
export function readFinishedLog(layout: SpoolLayout): LoggedMtimes {
  try {
    return parseFinishedLog(readSmallFileSync(layout.finishedLog, MAX_LOG_BYTES) ?? '');
  } catch {
    return parseFinishedLog(''); // a cache: one this user cannot read (EACCES on a shared spool) is none
  }
}

/** The line of a file's key (`<state>/<name>`): its mtime, or `-` (pure: the one place a line is made). */
const line = (key: string, st: Stats | null) => `${key} ${st ? st.mtimeMs : '-'}\n`;

/**
 * Places a finished file at `path` (a finished state's job file) with `place`, logging `-` before and its
 * mtime after. Never fails because of the log.
 */
export async function fileLogged<T>(layout: SpoolLayout, path: string, place: () => Promise<T>): Promise<T> {
  const key = keyOf(layout, path);
  await append(layout, line(key, null));
  const placed = await place();
  const st = await lstat(path).catch(() => null); // the move is done whatever this says: no line, `-` stays
  if (st) await append(layout, line(key, st));
  return placed;
}

/** One O_APPEND write. A failure removes the log: a name it can no longer update must not stay vouched for. */
async function append(layout: SpoolLayout, text: string): Promise<void> {
  try {
    await appendFile(layout.finishedLog, text, { mode: LOG_MODE, flag: APPEND_NO_FOLLOW });
  } catch {
    // Every errno alike: the transition goes on whatever the cache does; without a log, status lstats.
    await unlink(layout.finishedLog).catch(() => undefined);
  }
}

/**
 * Rewrites the log as one line per finished job file present (prune: it must not grow for ever, and it
 * indexes a spool that has none). Vouches only from lstats made after reading the log, never for a name
 * whose last line was `-` (a filing under way or cut short). Appends written to the old file while this
 * ran are copied after the new lines as `-`: they may be older than lines appended to the new file.
 */
export async function rebuildFinishedLog(layout: SpoolLayout): Promise<void> {
  const old = await openLog(layout.finishedLog); // created if missing: every append from now on is seen
  try {
    const read = await old.readFile(); // from offset 0: a fresh handle
    const known = parseFinishedLog(read.toString('utf8'));
    const lines: string[] = [];
    for (const state of FINISHED_STATES) {
      for (const name of await readdir(join(layout.spool, state)).catch(ifMissing([]))) {
        // A rejection's error file is listed only when its job file is missing: then it is lstat'ed.
        if (!isJobFileName(name) || (state === 'rejected' && isRejectionName(name)) || known[state].get(name) === null) continue;
        const st = await lstat(join(layout.dir(state), name)).catch(ifMissing(null));
        if (st) lines.push(line(`${state}/${name}`, st));
      }
    }
    const tmp = `${layout.finishedLog}.${process.pid}.tmp`;
    await writeFile(tmp, lines.join(''), { mode: LOG_MODE, flag: 'wx' });
    await rename(tmp, layout.finishedLog);
    const { size } = await old.stat();
    const late = Buffer.alloc(Math.max(0, size - read.length));
    await old.read(late, 0, late.length, read.length);
    const lateKeys = Object.entries(parseFinishedLog(late.toString('utf8'))).flatMap(([state, names]) =>
      [...names.keys()].map((n) => `${state}/${n}`),
    );
    const unvouched = lateKeys.map((key) => line(key, null));
    if (unvouched.length) await append(layout, unvouched.join(''));
  } finally {
    await old.close();
  }
}
