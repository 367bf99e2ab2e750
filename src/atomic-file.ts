// Publishing files so that a reader sees all of a file or none of it (Maildir: write a dotfile, then rename).
import { randomBytes } from 'node:crypto';
import { link, open, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

function tempPathFor(path: string): string {
  // Cut long names: the temp name must stay under the file system's 255-byte limit.
  return join(dirname(path), `.${basename(path).slice(0, 128)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** The temp files `tempPathFor` names (pure): `.<name>.<pid>.<8 hex>.tmp`. */
export function isTempName(name: string): boolean {
  return /^\..*\.\d+\.[0-9a-f]{8}\.tmp$/.test(name);
}

/**
 * Removes temp files in `dir` that were last written more than `olderThanMs` ago: what is left of writes
 * whose process was killed between write and rename. Younger ones may belong to a write under way.
 */
export async function removeWriteDebris(dir: string, olderThanMs: number): Promise<string[]> {
  const removed: string[] = [];
  for (const name of (await readdir(dir).catch(() => [])).filter(isTempName)) {
    const path = join(dir, name);
    const st = await stat(path).catch(() => null);
    if (st && Date.now() - st.mtimeMs > olderThanMs && (await unlink(path).then(() => true, () => false))) removed.push(name);
  }
  return removed;
}

/** Writes `path` atomically, replacing any file there. */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const tmp = tempPathFor(path);
  await writeFile(tmp, data, { mode: 0o644 });
  await rename(tmp, path);
}

/** Writes `path` atomically only if nothing is there yet; throws EEXIST otherwise (link never clobbers). */
export async function createFileAtomic(path: string, data: string): Promise<void> {
  const tmp = tempPathFor(path);
  await writeFile(tmp, data, { mode: 0o644 });
  try {
    await link(tmp, path);
  } finally {
    await unlink(tmp);
  }
}

/** Writes JSON the way every spool file is written: pretty, newline-terminated, atomic. */
export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  return writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** fsync of a directory: makes the names created, renamed or removed in it durable. */
export async function syncDir(dir: string): Promise<void> {
  const fd = await open(dir, 'r');
  try {
    await fd.sync();
  } finally {
    await fd.close();
  }
}

/** rename, made durable: the target's directory (and the source's, if another) synced after it. */
export async function renameDurable(from: string, to: string): Promise<void> {
  await rename(from, to);
  await syncDir(dirname(to));
  if (dirname(from) !== dirname(to)) await syncDir(dirname(from));
}
