import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rm, utimes, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createExclusive,
  createFileAtomic,
  removeWriteDebris,
  renameDurable,
  syncDir,
  writeFileAtomic,
  writeJsonAtomic,
  writeJsonFilesAtomic,
  writeJsonGroupsAtomic,
  writeJsonNote,
} from '../../src/spool/atomic-file.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'codex-spool-unit-atomic-'));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

describe('createFileAtomic', () => {
  it('creates a new file with the data, leaving no temp file', async () => {
    await createFileAtomic(join(dir, 'a.json'), 'hello');
    expect(await readFile(join(dir, 'a.json'), 'utf8')).toBe('hello');
    expect(await readdir(dir)).toEqual(['a.json']);
  });

  it('never clobbers: EEXIST, old content kept, temp file removed', async () => {
    await writeFile(join(dir, 'a.json'), 'old');
    const err = await createFileAtomic(join(dir, 'a.json'), 'new').catch((e: NodeJS.ErrnoException) => e);
    expect((err as NodeJS.ErrnoException).code).toBe('EEXIST');
    expect(await readFile(join(dir, 'a.json'), 'utf8')).toBe('old');
    expect(await readdir(dir)).toEqual(['a.json']);
  });

  it('concurrent creates of one path: exactly one succeeds', async () => {
    const results = await Promise.allSettled(['1', '2', '3', '4'].map((d) => createFileAtomic(join(dir, 'x'), d)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const winner = results.findIndex((r) => r.status === 'fulfilled');
    expect(await readFile(join(dir, 'x'), 'utf8')).toBe(String(winner + 1));
    expect(await readdir(dir)).toEqual(['x']);
  });
});

// SFTP has no "already exists" status: over sshfs a link() or open('wx') that loses a race with another
// client fails with EPERM, and a caller waiting for EEXIST (a duplicate submit, a takeover token) failed.
describe('createExclusive', () => {
  const failingWith = (code: string) => () => Promise.reject(Object.assign(new Error(code), { code }));
  it('reports a creation refused on a name that exists as EEXIST, whatever error the file system gave', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('EEXIST', 'EPERM', 'EACCES', 'ENOSPC', 'EIO'), fc.boolean(), async (code, taken) => {
        const path = join(dir, 'target');
        await rm(path, { force: true });
        if (taken) await writeFile(path, 'other');
        const err = await createExclusive(path, failingWith(code)).catch((e: NodeJS.ErrnoException) => e);
        // EPERM with nothing there is a real permission fault: kept as it is.
        expect((err as NodeJS.ErrnoException).code).toBe(code === 'EPERM' && taken ? 'EEXIST' : code);
      }),
      { numRuns: 40 },
    );
  });

  it('returns what the creation returned', async () => {
    expect(await createExclusive(join(dir, 'x'), async () => 7)).toBe(7);
  });
});

describe('writeFileAtomic / writeJsonAtomic', () => {
  it('replaces an existing file, leaving no temp file', async () => {
    await writeFile(join(dir, 'a'), 'old');
    await writeFileAtomic(join(dir, 'a'), 'new');
    expect(await readFile(join(dir, 'a'), 'utf8')).toBe('new');
    expect(await readdir(dir)).toEqual(['a']);
  });

  it('writes pretty JSON ending in a newline', async () => {
    await writeJsonAtomic(join(dir, 'j.json'), { a: 1, b: [2] });
    expect(await readFile(join(dir, 'j.json'), 'utf8')).toBe('{\n  "a": 1,\n  "b": [\n    2\n  ]\n}\n');
  });

  it('fails (and publishes nothing) when the directory does not exist', async () => {
    await expect(writeFileAtomic(join(dir, 'missing', 'a'), 'x')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('removeWriteDebris', () => {
  it('removes only our temp files older than the limit; young ones, user temp files and jobs stay', async () => {
    const hourAgo = new Date(Date.now() - 3_700_000);
    // The first name is as a SIGKILLed worker left it in done/ in the chaos suite.
    const files = ['.k-009.json.10901.53b4b99d.tmp', '.young.json.77.0badcafe.tmp', '.x.json.tmp', 'a.json', '.a.json.12.zzzzzzzz.tmp'];
    for (const f of files) await writeFile(join(dir, f), 'x');
    for (const f of files.filter((f) => !f.startsWith('.young'))) await utimes(join(dir, f), hourAgo, hourAgo);
    expect(await removeWriteDebris(dir, 3_600_000)).toEqual(['.k-009.json.10901.53b4b99d.tmp']);
    expect((await readdir(dir)).sort()).toEqual(['.a.json.12.zzzzzzzz.tmp', '.x.json.tmp', '.young.json.77.0badcafe.tmp', 'a.json']);
  });

  it('a missing directory is nothing to clean', async () => {
    expect(await removeWriteDebris(join(dir, 'nope'), 0)).toEqual([]);
  });
});

describe('a reader never sees a partial file (property)', () => {
  // Large contents, so that a write in place (open with O_TRUNC, then write) would be seen half done.
  const contents = fc.array(
    fc.string({ minLength: 1, maxLength: 8 }).map((unit) => unit.repeat(40_000)),
    { minLength: 2, maxLength: 5 },
  );

  const replacers: [string, (path: string, data: string) => Promise<void>, (data: string) => string][] = [
    ['writeFileAtomic', writeFileAtomic, (data) => data],
    ['writeJsonNote', writeJsonNote, (data) => `${JSON.stringify(data, null, 2)}\n`],
  ];
  it.each(replacers)('%s: every read is one whole version', async (_, write, textOf) => {
    await fc.assert(
      fc.asyncProperty(contents, async (versions) => {
        const path = join(dir, 'f');
        await write(path, versions[0]!);
        const seen = await readWhile(path, async () => {
          for (const v of versions.slice(1)) await write(path, v);
        });
        const whole = versions.map(textOf);
        expect(seen.filter((text) => text === null || !whole.includes(text))).toEqual([]);
      }),
      { numRuns: 15 },
    );
  });

  it('createFileAtomic: every read is nothing or the whole file', async () => {
    await fc.assert(
      fc.asyncProperty(contents, async ([data]) => {
        const path = join(dir, `c-${Math.random()}`);
        const seen = await readWhile(path, () => createFileAtomic(path, data!));
        expect(seen.filter((text) => text !== null && text !== data)).toEqual([]);
      }),
      { numRuns: 15 },
    );
  });
});

/** Reads `path` over and over while `work` runs: every text read (null while it does not exist). */
async function readWhile(path: string, work: () => Promise<void>): Promise<(string | null)[]> {
  let working = true;
  const seen: (string | null)[] = [];
  const reader = (async () => {
    while (working) seen.push(await readFile(path, 'utf8').catch(() => null));
  })();
  await work();
  working = false;
  await reader;
  return seen;
}

describe('durability: fsync before publishing, the directory after', () => {
  /** Each fsync in order: of a file or a directory, and whether `target` existed at that moment. */
  function recordSyncs(target: string) {
    const syncs: { dir: boolean; targetThere: boolean }[] = [];
    const proto = Object.getPrototypeOf(fileHandleSample) as FileHandle;
    const sync = proto.sync;
    vi.spyOn(proto, 'sync').mockImplementation(async function (this: FileHandle) {
      syncs.push({ dir: (await this.stat()).isDirectory(), targetThere: existsSync(target) });
      return sync.call(this);
    });
    return syncs;
  }
  let fileHandleSample: FileHandle;
  beforeEach(async () => {
    fileHandleSample = await open(join(dir, '.sample'), 'w');
    await fileHandleSample.close();
  });

  it('writeJsonNote syncs nothing (a progress note), and a failed note leaves no temp file', async () => {
    const syncs = recordSyncs(join(dir, 'n'));
    await writeJsonNote(join(dir, 'n'), { pid: 1 });
    expect([syncs, await readFile(join(dir, 'n'), 'utf8')]).toEqual([[], '{\n  "pid": 1\n}\n']);
    await mkdir(join(dir, 'd'));
    await expect(writeJsonNote(join(dir, 'd'), 1)).rejects.toMatchObject({ code: expect.stringMatching(/EISDIR|ENOTEMPTY|EEXIST/) });
    expect((await readdir(dir)).sort()).toEqual(['.sample', 'd', 'n']);
  });

  it('writeFileAtomic syncs the new file before the rename, then the directory', async () => {
    const syncs = recordSyncs(join(dir, 'a'));
    await writeFileAtomic(join(dir, 'a'), 'x');
    expect(syncs).toEqual([
      { dir: false, targetThere: false },
      { dir: true, targetThere: true },
    ]);
  });

  it('writeJsonFilesAtomic syncs every file before publishing any, then their directory once', async () => {
    const syncs = recordSyncs(join(dir, 'a'));
    await writeJsonFilesAtomic([
      [join(dir, 'a'), 1],
      [join(dir, 'b'), 2],
    ]);
    expect(syncs).toEqual([
      { dir: false, targetThere: false },
      { dir: false, targetThere: false },
      { dir: true, targetThere: true },
    ]);
    expect([await readFile(join(dir, 'a'), 'utf8'), await readFile(join(dir, 'b'), 'utf8')]).toEqual(['1\n', '2\n']);
  });

  it('writeJsonGroupsAtomic syncs every file at once, then places each group durably before the next', async () => {
    await mkdir(join(dir, 'run'));
    await mkdir(join(dir, 'done'));
    const record = join(dir, 'done', 'c');
    const syncs = recordSyncs(record);
    await writeJsonGroupsAtomic([
      [
        [join(dir, 'run', 'a'), 1],
        [join(dir, 'run', 'b'), 2],
      ],
      [[record, 3]],
    ]);
    const file = { dir: false, targetThere: false };
    expect(syncs).toEqual([file, file, file, { dir: true, targetThere: false }, { dir: true, targetThere: true }]);
    expect(await readFile(record, 'utf8')).toBe('3\n');
  });

  it('writeJsonFilesAtomic publishes none when one cannot be written, and leaves no temp file', async () => {
    await writeFile(join(dir, 'a'), 'old');
    const files = [
      [join(dir, 'a'), 'new'],
      [join(dir, 'missing', 'b'), 'new'],
    ] as const;
    await expect(writeJsonFilesAtomic(files)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readFile(join(dir, 'a'), 'utf8')).toBe('old');
    expect((await readdir(dir)).sort()).toEqual(['.sample', 'a']);
  });

  it('createFileAtomic syncs the new file before the link, then the directory', async () => {
    const syncs = recordSyncs(join(dir, 'a'));
    await createFileAtomic(join(dir, 'a'), 'x');
    expect(syncs).toEqual([
      { dir: false, targetThere: false },
      { dir: true, targetThere: true },
    ]);
  });

  it('renameDurable syncs the target directory, and the source directory when it is another', async () => {
    await mkdir(join(dir, 'from'));
    await mkdir(join(dir, 'to'));
    await writeFile(join(dir, 'from', 'j'), 'x');
    const syncs = recordSyncs(join(dir, 'to', 'j'));
    await renameDurable(join(dir, 'from', 'j'), join(dir, 'to', 'j'));
    expect(syncs).toEqual([
      { dir: true, targetThere: true },
      { dir: true, targetThere: true },
    ]);
    expect(await readFile(join(dir, 'to', 'j'), 'utf8')).toBe('x');
    expect(await readdir(join(dir, 'from'))).toEqual([]);
    syncs.length = 0;
    await renameDurable(join(dir, 'to', 'j'), join(dir, 'to', 'k'));
    expect(syncs).toEqual([{ dir: true, targetThere: false }]); // one directory: one sync
  });

  it('a failing fsync of the file is thrown, nothing is published and no temp file is left', async () => {
    await writeFile(join(dir, 'a'), 'old');
    vi.spyOn(Object.getPrototypeOf(fileHandleSample) as FileHandle, 'sync').mockRejectedValue(eio());
    await expect(writeFileAtomic(join(dir, 'a'), 'new')).rejects.toMatchObject({ code: 'EIO' });
    await expect(createFileAtomic(join(dir, 'b'), 'new')).rejects.toMatchObject({ code: 'EIO' });
    expect(await readFile(join(dir, 'a'), 'utf8')).toBe('old');
    expect((await readdir(dir)).sort()).toEqual(['.sample', 'a']);
  });

  it('a failing fsync of the directory is thrown too (the name may not survive a power loss)', async () => {
    const proto = Object.getPrototypeOf(fileHandleSample) as FileHandle;
    const sync = proto.sync;
    vi.spyOn(proto, 'sync').mockImplementation(async function (this: FileHandle) {
      if ((await this.stat()).isDirectory()) throw eio();
      return sync.call(this);
    });
    await expect(writeFileAtomic(join(dir, 'a'), 'x')).rejects.toMatchObject({ code: 'EIO' });
    await expect(createFileAtomic(join(dir, 'b'), 'x')).rejects.toMatchObject({ code: 'EIO' });
    await expect(renameDurable(join(dir, 'a'), join(dir, 'c'))).rejects.toMatchObject({ code: 'EIO' });
    await expect(syncDir(dir)).rejects.toMatchObject({ code: 'EIO' });
  });

  it('renameDurable and syncDir pass other errors on', async () => {
    await expect(renameDurable(join(dir, 'missing'), join(dir, 'x'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(syncDir(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  // A state directory of a shared spool swapped for a FIFO by another user: opened to read, it waited for a writer.
  it('syncDir of a FIFO fails at once (ENOTDIR), never waits on it', async () => {
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    await expect(syncDir(join(dir, 'fifo'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});

const eio = () => Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
