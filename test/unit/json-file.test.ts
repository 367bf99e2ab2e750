// The one JSON reader of the spool: absence and files that are no files read as null; every other error surfaces.
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { readSmallFile, readSmallFileSync } from '../../src/spool/atomic-file.js';
import { readJson, readJsonSync } from '../../src/spool/json-file.js';
import { isObject, type JsonObject } from '../../src/util/json-value.js';

/** Any JSON object: the reader's own checks (size, link, JSON) are what is tested here. */
const AnyObject = z.custom<JsonObject>(isObject);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'codex-spool-unit-json-file-'));
  await writeFile(join(dir, 'ok.json'), '{"a":1}');
  await writeFile(join(dir, 'array.json'), '[1]');
  await writeFile(join(dir, 'bad.json'), '{"a":');
  await writeFile(join(dir, 'big.json'), `{"a":"${'x'.repeat(100)}"}`);
  await symlink(join(dir, 'ok.json'), join(dir, 'link.json'));
  await mkdir(join(dir, 'sub.json'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const A = z.object({ a: z.number() });
const readers = [
  ['readJson', readJson],
  ['readJsonSync', async (p: string, s: z.core.$ZodType, max?: number) => readJsonSync(p, s, max)],
] as const;

describe.each(readers)('%s', (_, read) => {
  it('returns the value the schema accepts', async () => {
    expect(await read(join(dir, 'ok.json'), A)).toEqual({ a: 1 });
    expect(await read(join(dir, 'ok.json'), AnyObject)).toEqual({ a: 1 });
  });

  it('null for what is not there, not JSON, not the schema, too big, a link or a directory', async () => {
    for (const name of ['missing.json', 'ok.json/below', 'bad.json', 'array.json', 'link.json', 'sub.json']) {
      expect(await read(join(dir, name), AnyObject), name).toBeNull();
    }
    expect(await read(join(dir, 'ok.json'), z.object({ b: z.string() }))).toBeNull();
    expect(await read(join(dir, 'big.json'), AnyObject, 50)).toBeNull();
  });

  it('throws any other error (here ENAMETOOLONG) instead of calling the file absent', async () => {
    await expect(read(join(dir, `${'n'.repeat(300)}.json`), AnyObject)).rejects.toMatchObject({ code: 'ENAMETOOLONG' });
  });
});

describe('readSmallFile and readSmallFileSync', () => {
  it('agree on every kind of path', async () => {
    for (const name of ['ok.json', 'missing.json', 'link.json', 'sub.json', 'ok.json/below']) {
      expect(readSmallFileSync(join(dir, name), 1000), name).toBe(await readSmallFile(join(dir, name), 1000));
    }
  });
});
