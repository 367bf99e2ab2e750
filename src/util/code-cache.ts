// Loads a CommonJS bundle of dist/ as require() would, but compiled through a V8 code cache kept beside it
// (`<bundle>.cache`): Node 20 has no compile cache of its own, and compiling the program's bundle is a
// large share of a short command's start. V8 checks the cache against the source, its own version and
// flags (cachedDataRejected); a missing or rejected cache is rebuilt when the process exits, written to a
// temp file and renamed, so a reader never sees half of one.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

/** The module.exports of the CommonJS file `file` (absolute), run in this context with its own require. */
export function requireCached<T>(file: string): T {
  const cacheFile = `${file}.cache`;
  const cachedData = readCache(cacheFile);
  const source = readFileSync(file, 'utf8');
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: file, cachedData });
  if (cachedData === undefined || script.cachedDataRejected) process.once('exit', () => writeCache(cacheFile, script));
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));
  return module.exports as T;
}

/** The cache's bytes, or undefined. Whatever keeps it from being read only costs the compile it would save. */
function readCache(cacheFile: string): Buffer | undefined {
  try {
    return readFileSync(cacheFile);
  } catch {
    return undefined;
  }
}

/** Writes the code V8 has compiled so far (this run's functions included). Best effort: a read-only install
 *  or a full disk only leaves the cache as it was, and the next run compiles again. */
function writeCache(cacheFile: string, script: Script): void {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, script.createCachedData());
    renameSync(tmp, cacheFile);
  } catch {
    rmSync(tmp, { force: true });
  }
}
