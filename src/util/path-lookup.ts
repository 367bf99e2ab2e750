// Finding a command as a shell does: the first executable regular file of that name on PATH.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, resolve } from 'node:path';

/** The absolute path of the first executable `name` on `path` (a PATH value), or null. */
export function findOnPath(name: string, path = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    if (dir && isExecutableFile(resolve(dir, name))) return resolve(dir, name);
  }
  return null;
}

/** `path` is a regular file this process may execute. */
export function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false; // whatever the reason (not there, not ours to run), it cannot be run
  }
}
