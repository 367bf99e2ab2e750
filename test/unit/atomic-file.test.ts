import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileAtomic, removeWriteDebris, writeFileAtomic, writeJsonAtomic } from '../../src/atomic-file.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'codex-spool-unit-atomic-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

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
