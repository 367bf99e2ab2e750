// Publishing files so that a reader sees all of a file or none of it, and a crash or power loss after
// the call returned keeps it (Maildir: write a dotfile and fsync it, then rename or link it into place,
// then fsync the directory, which is what makes the new name durable).
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { link, lstat, open, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ifMissing } from '../util/errors.js';
import { REGULAR_FILE_FLAGS, nullIfNotAFile, openRegular } from '../util/regular-file.js';

/** A fresh dotfile name beside `path`, for a file made exclusively ('wx'): unique to this process and call. */
export function tempPathFor(path: string): string {
  // Cut long names: the temp name must stay under the file system's 255-byte limit.
  // Math.random, not node:crypto (whose load would cost every command): the name must be unique, not secret;
  // it is created exclusively ('wx') in the user's own spool.
  const hex = Math.floor(Math.random() * 2 ** 32)
    .toString(16)
    .padStart(8, '0');
  return join(dirname(path), `.${basename(path).slice(0, 128)}.${process.pid}.${hex}.tmp`);
}

/** The temp files `tempPathFor` names (pure): `.<name>.<pid>.<8 hex>.tmp`. */
function isTempName(name: string): boolean {
  return /^\..*\.\d+\.[0-9a-f]{8}\.tmp$/.test(name);
}

/**
 * Removes temp files in `dir` that were last written more than `olderThanMs` ago: what is left of writes
 * whose process was killed between write and rename. Younger ones may belong to a write under way.
 */
export async function removeWriteDebris(dir: string, olderThanMs: number): Promise<string[]> {
  const removed: string[] = [];
  for (const name of (await readdir(dir).catch(ifMissing([]))).filter(isTempName)) {
    const path = join(dir, name);
    // lstat: whatever has a temp file's name is looked at itself; through a looping link the worker could not start.
    const st = await lstat(path).catch(ifMissing(null));
    if (
      st &&
      Date.now() - st.mtimeMs > olderThanMs &&
      (await unlink(path).then(
        () => true,
        () => false,
      ))
    )
      removed.push(name); // tidying: one that stays is tried next time
  }
  return removed;
}

/** Writes `path` atomically and durably, replacing any file there. */
export function writeFileAtomic(path: string, data: string): Promise<void> {
  return writeFilesAtomic([[path, data]]);
}

type FileGroup = readonly (readonly [string, string])[];

/**
 * Writes each `[path, data]` atomically and durably, replacing any file there: every temp file synced,
 * then renamed into place, then each directory synced once (files of one directory share that sync).
 * Once it resolves all are durable; a failure may leave some replaced and others not.
 */
export function writeFilesAtomic(files: FileGroup): Promise<void> {
  return writeFileGroupsAtomic([files]);
}

/**
 * writeFilesAtomic of each group in turn: a group is durable before the next one is placed (a record placed
 * last never names files that a power loss could drop), while the data of all is written and synced at once.
 */
export async function writeFileGroupsAtomic(groups: readonly FileGroup[]): Promise<void> {
  const files = groups.flat();
  const written = await Promise.allSettled(files.map(([path, data]) => writeTempSynced(path, data)));
  const temps = written.flatMap((w) => (w.status === 'fulfilled' ? [w.value] : []));
  try {
    for (const w of written) if (w.status === 'rejected') throw w.reason;
    let next = 0;
    for (const group of groups) {
      for (const [path] of group) await rename(temps[next++]!, path);
      await syncDirsOf(...group.map(([path]) => path));
    }
  } catch (err) {
    await Promise.all(temps.map((tmp) => unlink(tmp).catch(() => undefined))); // tidying (renamed ones are gone: ENOENT); `err` is what the caller needs
    throw err;
  }
}

/** Something is at `path` (any type, a dangling link too). */
const exists = (path: string) =>
  lstat(path).then(
    () => true,
    () => false,
  );

/**
 * `create()`, an exclusive creation of `path` (`link`, open with 'wx'), whose failure because the name is
 * taken is always EEXIST: over SFTP (sshfs), which has no such status, a creation that loses a race with
 * another client fails with EPERM.
 */
export async function createExclusive<T>(path: string, create: () => Promise<T>): Promise<T> {
  try {
    return await create();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM' || !(await exists(path))) throw err;
    throw Object.assign(new Error(`EEXIST: file already exists, ${path}`), { code: 'EEXIST', path });
  }
}

/**
 * Hard-links `from` as `to`, never replacing a file there (EEXIST, whatever the file system). Over FUSE
 * (sshfs) a link that was made fails ENOENT when `to` is moved on (a worker's claim) before libfuse looks
 * the new name up: with `from` and the target directory there, nothing else makes a link fail ENOENT, so
 * that is success. Linking again would publish a second copy: a job run twice, or rejected as its own duplicate.
 */
export async function linkNoReplace(from: string, to: string): Promise<void> {
  try {
    await createExclusive(to, () => link(from, to));
  } catch (err) {
    const made = (err as NodeJS.ErrnoException).code === 'ENOENT' && (await exists(from)) && (await exists(dirname(to)));
    if (!made) throw err;
  }
}

/** Writes `path` atomically and durably only if nothing is there yet; throws EEXIST otherwise (link never clobbers). */
export async function createFileAtomic(path: string, data: string): Promise<void> {
  const tmp = await writeTempSynced(path, data);
  try {
    await linkNoReplace(tmp, path);
  } finally {
    await unlink(tmp);
  }
  await syncDir(dirname(path)); // one sync for the new name and the temp name gone
}

/**
 * Moves `from` to `to` (one file system) durably: once it returns, a power loss leaves the file at `to`
 * only. Syncs the target directory, and the source directory too when it is another one (else the old
 * name could come back beside the new one).
 */
export async function renameDurable(from: string, to: string): Promise<void> {
  await rename(from, to);
  await syncDirsOf(to, from);
}

/** Makes the entries of the directories of `paths` durable, each directory once, all at once: no order matters, only that all are durable when it resolves. */
export async function syncDirsOf(...paths: string[]): Promise<void> {
  await Promise.all([...new Set(paths.map((path) => dirname(path)))].map(syncDir));
}

/** Makes the entries of `dir` (names created, renamed or removed in it) durable. */
export async function syncDir(dir: string): Promise<void> {
  // O_DIRECTORY: anything else there (a FIFO put in its place, whose open would wait for a writer) is ENOTDIR.
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `data` to a new temp file beside `path` and syncs it; removes it if that fails. Returns its path. */
async function writeTempSynced(path: string, data: string): Promise<string> {
  const tmp = tempPathFor(path);
  const handle = await open(tmp, 'wx', 0o644);
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    await unlink(tmp).catch(() => undefined); // tidying; `err` is what the caller needs
    throw err;
  }
  return tmp;
}

/**
 * Writes JSON as writeJsonAtomic does, atomic (a reader sees all of it or none) but not durable: no sync of
 * the file or its directory. For a progress note that a durable write supersedes (a run's meta.json while
 * Codex runs): a crash of the process keeps it (the page cache does), and a power loss, which would take
 * the run's own output with it, at worst leaves the note before. Each sync costs a job about half a
 * millisecond of CPU, and a run writes three or four notes.
 */
export async function writeJsonNote(path: string, value: unknown): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    await writeFile(tmp, jsonText(value), { flag: 'wx', mode: 0o644 });
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined); // tidying; `err` is what the caller needs
    throw err;
  }
}

/** A spool file's JSON text: pretty and newline-terminated (pure). */
const jsonText = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/** Writes JSON the way every spool file is written: pretty, newline-terminated, atomic and durable. */
export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  return writeJsonFilesAtomic([[path, value]]);
}

/** JSON files to write: `[path, value]` each. */
export type JsonFiles = readonly (readonly [string, unknown])[];

/** Several JSON files as `writeJsonAtomic` writes each, made durable together (see writeFilesAtomic). */
export function writeJsonFilesAtomic(files: JsonFiles): Promise<void> {
  return writeJsonGroupsAtomic([files]);
}

/** Groups of JSON files as `writeJsonAtomic` writes each, placed group after group (see writeFileGroupsAtomic). */
export function writeJsonGroupsAtomic(groups: readonly JsonFiles[]): Promise<void> {
  return writeFileGroupsAtomic(groups.map((files) => files.map(([path, value]) => [path, jsonText(value)] as const)));
}

/**
 * The text of `path` if it is a regular file of at most `maxBytes`, else null: for files in the spool that
 * whoever can write it may have planted. Never follows a link, and never blocks (a FIFO is refused, not read).
 * A path that is not there is null too; any other error (EACCES, EIO, EMFILE) is thrown, not taken for absence.
 */
export async function readSmallFile(path: string, maxBytes: number): Promise<string | null> {
  return (await readSmallFileBytes(path, maxBytes))?.toString('utf8') ?? null;
}

/** readSmallFile's bytes, undecoded. */
export async function readSmallFileBytes(path: string, maxBytes: number): Promise<Buffer | null> {
  const opened = await openRegular(path);
  if (!opened) return null;
  try {
    return opened.size <= maxBytes ? await opened.file.readFile() : null;
  } finally {
    await opened.file.close();
  }
}

/** readSmallFile for synchronous callers (the Claude hook). */
export function readSmallFileSync(path: string, maxBytes: number): string | null {
  let fd: number;
  try {
    fd = openSync(path, REGULAR_FILE_FLAGS);
  } catch (err) {
    return nullIfNotAFile(err);
  }
  try {
    const st = fstatSync(fd);
    return st.isFile() && st.size <= maxBytes ? readFileSync(fd, 'utf8') : null;
  } finally {
    closeSync(fd);
  }
}
