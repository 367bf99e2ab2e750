// The built CLI's V8 code cache (src/util/code-cache.ts): made by the first run, kept while V8 accepts it,
// and a cache that is not one never breaks a command. On a copy of dist/, so that other tests' runs of
// dist/cli.js neither see these caches nor touch them.
import { cp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { endSpoolTest, makeTempRoot, projectRoot, type TempRoot } from './helpers/spool-env.js';

let t: TempRoot;
let cli: string;
let cache: string;
let pkg: string;
beforeEach(async () => {
  t = await makeTempRoot();
  pkg = join(t.dir, 'pkg');
  await cp(join(projectRoot, 'dist'), join(pkg, 'dist'), { recursive: true, filter: (src) => !src.endsWith('.cache') });
  await cp(join(projectRoot, 'package.json'), join(pkg, 'package.json'));
  cli = join(pkg, 'dist', 'cli.js');
  cache = join(pkg, 'dist', 'program.js.cache');
});
afterEach(() => endSpoolTest(t));

/** `codex-spool --version` from the copy: it loads the program's bundle (and every command). */
async function version(): Promise<string> {
  const r = await execa('node', [cli, '--version'], { env: t.env, reject: false });
  expect({ code: r.exitCode, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  return r.stdout;
}

describe('the code cache beside each bundle of dist/', () => {
  it('is written by the first run and kept (not rewritten) by the next, which V8 accepts it for', async () => {
    const expected = JSON.parse(await readFile(join(projectRoot, 'package.json'), 'utf8')).version;
    await expect(stat(cache)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await version()).toBe(expected);
    const first = await stat(cache);
    expect(first.size).toBeGreaterThan(0);
    expect(await version()).toBe(expected);
    expect((await stat(cache)).ino).toBe(first.ino); // replaced only by a rename: same inode, same file
  });

  it('garbage, a truncated cache or a directory in its place: the command runs as without one', async () => {
    const expected = await version();
    const good = await readFile(cache);
    for (const bad of [Buffer.from('not a V8 code cache'), good.subarray(0, good.length >> 1)]) {
      await writeFile(cache, bad);
      expect(await version()).toBe(expected);
      expect((await readFile(cache)).equals(bad)).toBe(false); // V8 rejected it: rebuilt at exit
    }
    await rm(cache);
    await mkdir(cache);
    expect(await version()).toBe(expected);
  });

  it('submit and status run from bundles of their own, each with its own cache; the program is not loaded', async () => {
    for (const command of ['submit', 'status']) {
      const r = await execa('node', [cli, command, '--help'], { env: t.env, reject: false });
      expect({ code: r.exitCode, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      expect((await stat(join(pkg, 'dist', `${command}.js.cache`))).size).toBeGreaterThan(0);
    }
    await expect(stat(cache)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
