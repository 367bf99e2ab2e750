import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLocked, LOCK_STALE_MS, tryLock } from '../../src/claim-lock.js';

let dir: string;
const noop = () => undefined;
const ago = (ms: number) => new Date(Date.now() - ms);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'claim-lock-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** A lock directory its owner left behind `ageMs` ago. */
async function leftLock(name: string, ageMs: number) {
  await mkdir(join(dir, `${name}.lock`));
  await utimes(join(dir, `${name}.lock`), ago(ageMs), ago(ageMs));
}

describe('tryLock', () => {
  it('gives a free lock to the first taker only', async () => {
    const release = await tryLock(dir, 'a.json', noop);
    expect(release).not.toBeNull();
    expect(await tryLock(dir, 'a.json', noop)).toBeNull();
    expect(await isLocked(dir, 'a.json')).toBe(true);
    await release!();
    expect(await isLocked(dir, 'a.json')).toBe(false);
  });

  it('leaves a fresh lock of another process alone', async () => {
    await leftLock('a.json', 1_000);
    expect(await tryLock(dir, 'a.json', noop)).toBeNull();
  });

  it('takes over a stale lock and leaves no takeover token behind', async () => {
    await leftLock('a.json', LOCK_STALE_MS * 3);
    const release = await tryLock(dir, 'a.json', noop);
    expect(release).not.toBeNull();
    expect((await readdir(dir)).filter((f) => f.startsWith('.takeover-'))).toEqual([]);
    await release!();
  });

  it('of takers racing in one process for one stale lock, exactly one wins', async () => {
    await leftLock('a.json', LOCK_STALE_MS * 3);
    const got = await Promise.all([1, 2, 3, 4].map(() => tryLock(dir, 'a.json', noop)));
    expect(got.filter(Boolean)).toHaveLength(1);
  });

  it('clears the token of a taker killed mid-takeover once it is stale, then takes the lock', async () => {
    await leftLock('a.json', LOCK_STALE_MS * 3);
    const lock = await stat(join(dir, 'a.json.lock'));
    const token = join(dir, `.takeover-a.json-${lock.ino}-${Math.floor(lock.mtimeMs)}`);
    await writeFile(token, '');
    expect(await tryLock(dir, 'a.json', noop)).toBeNull(); // a live taker may still be at work
    await utimes(token, ago(LOCK_STALE_MS * 2), ago(LOCK_STALE_MS * 2));
    expect(await tryLock(dir, 'a.json', noop)).toBeNull(); // this try clears the dead token
    const release = await tryLock(dir, 'a.json', noop);
    expect(release).not.toBeNull();
    await release!();
  });
});
