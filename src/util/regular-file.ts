// Opening a file that whoever can write its directory may have planted: never following a link, never
// waiting on a FIFO (open blocks until a writer comes), never reading a directory.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { isMissing } from './errors.js';

/** Read-only, not through a link (ELOOP), not waiting for a FIFO's writer. */
export const REGULAR_FILE_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** An open error that means "no file to read here" → null; any other is thrown. */
export const nullIfNotAFile = (err: unknown): null => notAFile(err, true);

/** ELOOP: a symbolic link (O_NOFOLLOW); ENXIO: a socket. Neither is a file to read: null; so is "not there" if `missing`. */
function notAFile(err: unknown, missing: boolean): null {
  if ((missing && isMissing(err)) || ['ELOOP', 'ENXIO'].includes((err as NodeJS.ErrnoException).code ?? '')) return null;
  throw err;
}

/**
 * `path` opened for reading if it is a regular file, with its size; null if it is not a regular file, or not
 * there (unless `missing` is 'throw': then ENOENT is thrown). Any other error (EACCES, EIO, EMFILE) is thrown,
 * not taken for absence.
 */
export async function openRegular(path: string, missing: 'null' | 'throw' = 'null'): Promise<{ file: FileHandle; size: number } | null> {
  const file = await open(path, REGULAR_FILE_FLAGS).catch((err: unknown) => notAFile(err, missing === 'null'));
  if (!file) return null;
  try {
    const st = await file.stat();
    if (st.isFile()) return { file, size: st.size };
  } catch (err) {
    await file.close();
    throw err;
  }
  await file.close();
  return null;
}
