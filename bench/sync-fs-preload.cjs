// An experiment, not the product: loaded into a worker (node bench/drain-cpu.mjs . '.|--require ./bench/sync-fs-preload.cjs')
// it makes the promise calls of node:fs/promises that take a path (not FileHandle
// ones) run synchronously, to measure what the thread pool's hand-offs cost a job.
const fs = require('node:fs');
const fsp = require('node:fs/promises');
const names = ['lstat', 'stat', 'readFile', 'writeFile', 'rename', 'unlink', 'mkdir', 'readdir', 'realpath', 'access', 'rm', 'appendFile', 'link', 'rmdir', 'utimes', 'chmod'];
for (const name of names) {
  const sync = fs[`${name}Sync`];
  fsp[name] = (...args) => {
    try {
      return Promise.resolve(sync(...args));
    } catch (err) {
      return Promise.reject(err);
    }
  };
}
require('node:module').syncBuiltinESMExports();
