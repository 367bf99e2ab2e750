// Loads a CommonJS bundle of dist/ as require() would, but compiled through a V8 code cache kept beside it
// (`<bundle>.cache`): Node 20 has no compile cache of its own, and compiling the program's bundle is a
// large share of a short command's start. V8 checks a cache against its own version and flags, and against
// the source's LENGTH only: so the cache starts with a line naming the bundle it was made from (inode, size,
// ctime: any write to the bundle changes its ctime), and a cache of another bundle is not offered to V8. A
// missing or rejected cache is rebuilt when the process exits, written to a temp file and renamed, so a
// reader never sees half of one.
import { closeSync, constants, fstatSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

/** The module.exports of the CommonJS file `file` (absolute), run in this context with its own require. */
export function requireCached<T>(file: string): T {
  const cacheFile = `${file}.cache`;
  const fd = openSync(file, 'r');
  let source: string;
  let key: string;
  try {
    const st = fstatSync(fd);
    key = `${st.ino}:${st.size}:${st.ctimeMs}\n`;
    source = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  const cachedData = readCache(cacheFile, key);
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: file, cachedData });
  if (cachedData === undefined || script.cachedDataRejected) process.once('exit', () => writeCache(cacheFile, key, script));
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));
  return module.exports as T;
}

/**
 * The cached code made from the bundle named by `key`, or undefined. Whatever keeps it from being read (no
 * file, another bundle's, a FIFO or a link in its place) only costs the compile it would save.
 */
function readCache(cacheFile: string, key: string): Buffer | undefined {
  try {
    const fd = openSync(cacheFile, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      if (!fstatSync(fd).isFile()) return undefined;
      const bytes = readFileSync(fd);
      return bytes.subarray(0, key.length).toString('latin1') === key ? bytes.subarray(key.length) : undefined;
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

/**
 * Writes the code V8 has compiled so far (this run's functions included). Best effort: a read-only install
 * or a full disk only leaves the cache as it was, and the next run compiles again. Synced before it is
 * renamed into place: V8 does not checksum a code cache in release builds, so a cache whose key line
 * survived a power loss but whose code did not would crash every command (SIGSEGV) until it was removed.
 */
function writeCache(cacheFile: string, key: string, script: Script): void {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'wx');
    try {
      writeFileSync(fd, Buffer.concat([Buffer.from(key, 'latin1'), script.createCachedData()]));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, cacheFile);
  } catch {
    rmSync(tmp, { force: true });
  }
}
