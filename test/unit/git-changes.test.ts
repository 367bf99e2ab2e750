import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { changedPaths, changedSince, parsePorcelainV2, snapshotTree } from '../../src/codex/git-changes.js';

const dirs: string[] = [];
afterEach(async () => void (await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))));

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'git-changes-'));
  dirs.push(dir);
  return dir;
}

/** A repo with two committed files. */
async function repo(): Promise<string> {
  const dir = await tempDir();
  const git = (...args: string[]) => execa('git', ['-C', dir, ...args]);
  await git('init', '-q');
  await writeFile(join(dir, 'a.txt'), 'a\n');
  await writeFile(join(dir, 'b.txt'), 'b\n');
  await git('add', '.');
  await git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'init');
  return dir;
}

const sh = (dir: string, script: string) => execa('/bin/sh', ['-c', script], { cwd: dir });

describe('snapshotTree / changedSince with real git', () => {
  it('a file written by a shell command in a clean tree is a change; so are an edit and a deletion', async () => {
    const dir = await repo();
    const before = await snapshotTree(dir);
    await sh(dir, 'printf hi > hello.txt && mkdir -p new/deep && printf x > new/deep/f && printf z >> a.txt && rm b.txt');
    expect(await changedSince(before, dir)).toEqual(['a.txt', 'b.txt', 'hello.txt', 'new/deep/f'].map((p) => join(dir, p)));
  });

  it('an already dirty tree: only what the run touched counts, including a dirty file put back as it was committed', async () => {
    const dir = await repo();
    await sh(dir, 'printf 1 >> a.txt && printf 1 >> b.txt && printf u > untracked.txt && printf v > kept.txt');
    const before = await snapshotTree(dir);
    // a.txt edited again (same status " M"), b.txt restored, untracked.txt rewritten to the same size, kept.txt untouched.
    await sh(dir, 'printf 2 >> a.txt && git checkout -q b.txt && printf w > untracked.txt');
    expect(await changedSince(before, dir)).toEqual(['a.txt', 'b.txt', 'untracked.txt'].map((p) => join(dir, p)));
  });

  it('what the run committed counts (clean afterwards), as do files of a first commit; a dirty file committed too', async () => {
    const dir = await repo();
    await sh(dir, 'printf 1 >> b.txt');
    const before = await snapshotTree(dir);
    await sh(dir, 'printf hi > hello.txt && git add hello.txt b.txt && git -c user.name=t -c user.email=t@t commit -qm codex');
    expect(await changedSince(before, dir)).toEqual(['b.txt', 'hello.txt'].map((p) => join(dir, p)));
    const fresh = await tempDir();
    await execa('git', ['init', '-q', fresh]);
    const empty = await snapshotTree(fresh);
    expect(empty?.head).toBeNull();
    await sh(fresh, 'printf x > first.txt && git add . && git -c user.name=t -c user.email=t@t commit -qm first');
    expect(await changedSince(empty, fresh)).toEqual([join(fresh, 'first.txt')]);
  });

  it('nothing touched: no change; from a subdirectory, paths are still absolute under the top', async () => {
    const dir = await repo();
    await mkdir(join(dir, 'sub'));
    await sh(dir, 'printf 1 >> a.txt');
    const before = await snapshotTree(join(dir, 'sub'));
    expect(await changedSince(before, join(dir, 'sub'))).toEqual([]);
    await sh(dir, 'printf 1 > sub/x');
    expect(await changedSince(before, join(dir, 'sub'))).toEqual([join(dir, 'sub', 'x')]);
  });

  it('a directory that becomes a work tree of its own is seen as one (the top is asked of git again)', async () => {
    const dir = await repo();
    const sub = join(dir, 'sub');
    await mkdir(sub);
    expect((await snapshotTree(sub))?.top).toBe(dir);
    await execa('git', ['init', '-q', sub]);
    const before = await snapshotTree(sub);
    expect(before?.top).toBe(sub);
    await sh(sub, 'printf 1 > x');
    expect(await changedSince(before, sub)).toEqual([join(sub, 'x')]);
  });

  it("a linked worktree (its .git a file, as a job's own worktree has) and a repo found through $GIT_DIR are work trees too", async () => {
    const dir = await repo();
    const linked = join(await tempDir(), 'wt');
    await execa('git', ['-C', dir, 'worktree', 'add', '-q', '-b', 'w', linked]);
    const before = await snapshotTree(linked);
    await sh(linked, 'printf 1 > made.txt');
    expect(await changedSince(before, linked)).toEqual([join(linked, 'made.txt')]);
    // No .git at or above the directory, but git is told where the repo is: git decides, not the shortcut.
    const plain = await tempDir();
    process.env.GIT_DIR = join(dir, '.git');
    process.env.GIT_WORK_TREE = dir;
    try {
      expect(await snapshotTree(plain)).not.toBeNull();
    } finally {
      delete process.env.GIT_DIR;
      delete process.env.GIT_WORK_TREE;
    }
  });

  it("runs no core.fsmonitor command of the repo's config (a repo Codex made: the worker's git runs outside its sandbox)", async () => {
    const dir = await repo();
    const marker = join(dir, '..', `${basename(dir)}.ran`);
    await execa('git', ['-C', dir, 'config', 'core.fsmonitor', `touch ${marker}; false`]);
    const before = await snapshotTree(dir);
    await sh(dir, 'printf 1 >> a.txt');
    expect(await changedSince(before, dir)).toEqual([join(dir, 'a.txt')]);
    expect(existsSync(marker)).toBe(false);
  });

  it('not a git work tree: null (the caller falls back to apply_patch paths)', async () => {
    const dir = await tempDir();
    expect(await snapshotTree(dir)).toBeNull();
    expect(await changedSince(null, dir)).toBeNull();
  });
});

describe('parsePorcelainV2 and changedPaths', () => {
  const path = fc.stringMatching(/^[^\0]{1,20}$/);
  const kind = fc.constantFrom(
    '1 .M N... 100644 100644 100644 e69de29bb2d1d6434b8b29ae775ad8c2e48c5391 e69de29bb2d1d6434b8b29ae775ad8c2e48c5391',
    '1 A. N... 000000 100644 100644 0000000000000000000000000000000000000000 e69de29bb2d1d6434b8b29ae775ad8c2e48c5391',
    'u UU N... 100644 100644 100644 100644 e69de29bb2d1d6434b8b29ae775ad8c2e48c5391 e69de29bb2d1d6434b8b29ae775ad8c2e48c5391 e69de29bb2d1d6434b8b29ae775ad8c2e48c5391',
    '?',
  );

  it('property: parses every entry and the HEAD back, whatever the path holds (spaces, newlines, quotes)', () => {
    const head = fc.option(fc.stringMatching(/^[0-9a-f]{40}$/), { nil: null });
    fc.assert(
      fc.property(head, fc.dictionary(path, kind), (oid, entries) => {
        const records = [
          `# branch.oid ${oid ?? '(initial)'}`,
          '# branch.head main',
          ...Object.entries(entries).map(([p, k]) => `${k} ${p}`),
          '! ignored',
        ];
        const text = records.map((r) => `${r}\0`).join(''); // each record NUL-terminated, as git prints them
        const parsed = parsePorcelainV2(text);
        expect(parsed.head).toBe(oid);
        expect(Object.fromEntries(parsed.entries)).toEqual(entries);
      }),
    );
  });

  it('property: a path is changed exactly when its fingerprint differs before and after, or it was committed', () => {
    const state = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd', 'e'), fc.constantFrom('x', 'y'));
    const committed = fc.array(fc.constantFrom('a', 'c', 'z'), { maxLength: 3 });
    fc.assert(
      fc.property(state, state, committed, (b, a, c) => {
        const tree = (dirty: Record<string, string>) => ({ top: '/t', head: null, dirty: new Map(Object.entries(dirty)) });
        const expected = [...new Set([...[...new Set([...Object.keys(b), ...Object.keys(a)])].filter((p) => b[p] !== a[p]), ...c])].sort();
        expect(changedPaths(tree(b), tree(a), c)).toEqual(expected.map((p) => `/t/${p}`));
      }),
    );
  });
});
