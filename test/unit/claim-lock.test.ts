import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLocked, removeAbandonedLocks, tryLock } from '../../src/spool/lock.js';
import { DEFAULT_POLICY } from '../../src/spool/policy.js';

/** A spool's root, and its active/ (the directory locks live in). */
let root: string;
let dir: string;
const noop = () => undefined;
const ago = (ms: number) => new Date(Date.now() - ms);
const LOCK_STALE_MS = DEFAULT_POLICY.lock_stale_ms;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'claim-lock-'));
  dir = join(root, 'spool', 'active');
  await mkdir(dir, { recursive: true });
});
afterEach(() => rm(root, { recursive: true, force: true }));

/** A lock directory its owner left behind `ageMs` ago. */
async function leftLock(name: string, ageMs: number) {
  await mkdir(join(dir, `${name}.lock`));
  await utimes(join(dir, `${name}.lock`), ago(ageMs), ago(ageMs));
}

describe('tryLock', () => {
  it('gives a free lock to the first taker only', async () => {
    const lock = await tryLock(dir, 'a.json', noop);
    expect(lock).not.toBeNull();
    expect(await tryLock(dir, 'a.json', noop)).toBeNull();
    expect(await isLocked(dir, 'a.json')).toBe(true);
    await lock!.release();
    expect(await isLocked(dir, 'a.json')).toBe(false);
  });

  it('leaves a fresh lock of another process alone', async () => {
    await leftLock('a.json', 1_000);
    expect(await tryLock(dir, 'a.json', noop)).toBeNull();
  });

  it('takes over a stale lock and leaves no takeover token behind', async () => {
    await leftLock('a.json', LOCK_STALE_MS * 3);
    const lock = await tryLock(dir, 'a.json', noop);
    expect(lock).not.toBeNull();
    expect(await takeoverTokens()).toEqual([]);
    await lock!.release();
  });

  it("goes stale after the spool policy's lock_stale_ms, read by every process on the spool", async () => {
    await writeFile(join(root, 'codex-spool.config.json'), JSON.stringify({ policy: { lock_stale_ms: 3_000 } }));
    await leftLock('a.json', 2_000);
    expect(await isLocked(dir, 'a.json')).toBe(true);
    expect(await tryLock(dir, 'a.json', noop)).toBeNull();
    await leftLock('b.json', 4_000); // stale here, fresh under the default 10 s
    expect(await isLocked(dir, 'b.json')).toBe(false);
    const lock = await tryLock(dir, 'b.json', noop);
    expect(lock).not.toBeNull();
    await lock!.release();
  });

  // fails on main: an unreadable policy gave the default 10 s, and a lock fresh under the spool's 60 s was taken over
  it('a policy that cannot be read is an error, not the default stale time; it is read again once mended', async () => {
    const policy = join(root, 'codex-spool.config.json');
    await mkdir(policy); // not a regular file: refused whoever reads it (root included)
    await leftLock('a.json', 12_000); // stale under the default 10 s, fresh under the spool's 60 s
    await expect(tryLock(dir, 'a.json', noop)).rejects.toThrow(/not a regular file/);
    await expect(isLocked(dir, 'a.json')).rejects.toThrow(/not a regular file/);
    await rm(policy, { recursive: true });
    await writeFile(policy, JSON.stringify({ policy: { lock_stale_ms: 60_000 } }));
    expect(await tryLock(dir, 'a.json', noop)).toBeNull();
    expect(await isLocked(dir, 'a.json')).toBe(true);
  });

  it('of takers racing in one process for one stale lock, exactly one wins', async () => {
    await leftLock('a.json', LOCK_STALE_MS * 3);
    const got = await Promise.all([1, 2, 3, 4].map(() => tryLock(dir, 'a.json', noop)));
    expect(got.filter(Boolean)).toHaveLength(1);
  });

  // Takers on other hosts must agree on the instance they take over: over SFTP (sshfs) one sees the mtime in
  // whole seconds and an inode number of its own client's making, so a token named by inode or by
  // millisecond let a taker on each host go on at once (two holders, two Codex runs in one tree).
  it('waits while a taker on another host, which saw the mtime in whole seconds, has the turn', async () => {
    await mkdir(join(dir, 'a.json.lock'));
    const old = new Date(Math.floor(ago(LOCK_STALE_MS * 3).getTime() / 1000) * 1000 + 600); // x.600 s here
    await utimes(join(dir, 'a.json.lock'), old, old);
    await writeFile(`${dir}/.takeover-a.json-${Math.floor(old.getTime() / 1000)}-0`, ''); // made by the other host
    expect(await tryLock(dir, 'a.json', noop)).toBeNull();
  });

  // A taker killed between making its token and lock() leaves a dead token; removing it by name after a
  // stat could remove a live taker's fresh token in its place (so two takers would both go on), so a dead
  // token instead passes the turn to the next generation.
  it('passes the turn of a taker killed mid-takeover to the next generation, then cleans up', async () => {
    await leftLock('a.json', LOCK_STALE_MS * 3);
    const token = await tokenBase('a.json');
    await writeFile(`${token}-0`, '');
    expect(await tryLock(dir, 'a.json', noop)).toBeNull(); // a live taker may still be at work
    await utimes(`${token}-0`, ago(LOCK_STALE_MS * 2), ago(LOCK_STALE_MS * 2)); // it was killed
    await writeFile(`${token}-1`, ''); // and the next one is at work now
    expect(await tryLock(dir, 'a.json', noop)).toBeNull();
    await utimes(`${token}-1`, ago(LOCK_STALE_MS * 2), ago(LOCK_STALE_MS * 2)); // killed too
    const lock = await tryLock(dir, 'a.json', noop);
    expect(lock).not.toBeNull();
    expect(await takeoverTokens()).toEqual([]);
    await lock!.release();
  });
});

// A pause past the stale time (the lease then never renews) is tested on every claim transition, in
// spool-moves.test.ts: one freeze for all.
describe('HeldLock.held: a lock is surely ours only while its lease runs unbroken', () => {
  const QUICK_STALE_MS = 3_000; // the policy's floor; refreshed every 1 s
  /** This process frozen for `ms` (as by SIGSTOP): no timer, no refresh. */
  const freeze = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  beforeEach(() => writeFile(join(root, 'codex-spool.config.json'), JSON.stringify({ policy: { lock_stale_ms: QUICK_STALE_MS } })));

  it('is held from the take to the release', async () => {
    const lock = await tryLock(dir, 'a.json', noop);
    expect(await lock!.held()).toBe(true);
    await lock!.release();
    expect(await lock!.held()).toBe(false);
  });

  // Paused for more than half the stale time: held() waits for the refresh due, which renews the lease.
  it('after a pause shorter than the stale time, is held once the refresh due has renewed it', async () => {
    const lock = await tryLock(dir, 'a.json', noop);
    freeze(QUICK_STALE_MS * 0.6);
    expect(await lock!.held()).toBe(true);
    await lock!.release();
  });
});

/** The takeover token name (without generation) of the lock on `name` as it is now: its mtime in whole seconds. */
async function tokenBase(name: string): Promise<string> {
  const lock = await stat(join(dir, `${name}.lock`));
  return join(dir, `.takeover-${name}-${Math.floor(lock.mtimeMs / 1000)}`);
}

const takeoverTokens = async () => (await readdir(dir)).filter((f) => f.startsWith('.takeover-'));

describe('removeAbandonedLocks', () => {
  const HOUR = 3_600_000;

  it('removes the locks of killed holders once abandoned, and only those: not a fresh one, not one whose job is still in active/ (recovery takes that over)', async () => {
    await leftLock('moved-on.json', 2 * HOUR); // its holder was killed after filing the job
    await leftLock('repo-0123456789abcdef', 2 * HOUR); // a repo lock of a killed worker
    await leftLock('young.json', HOUR / 2);
    await leftLock('running.json', 2 * HOUR);
    await writeFile(join(dir, 'running.json'), '{}');
    const held = await tryLock(dir, 'held.json', noop);
    await utimes(join(dir, 'held.json.lock'), ago(2 * HOUR), ago(2 * HOUR)); // a holder paused past any stale time

    expect(await removeAbandonedLocks(dir, HOUR)).toBe(3);
    expect((await readdir(dir)).sort()).toEqual(['running.json', 'running.json.lock', 'young.json.lock']);
    await held!.release(); // its holder learns it lost the lock (onCompromised), as with any takeover; releasing is harmless
  });

  it('leaves, and does not count, a lock it cannot remove (not empty: rmdir fails), without failing', async () => {
    await leftLock('stuck.json', 2 * HOUR);
    await writeFile(join(dir, 'stuck.json.lock', 'planted'), '');
    await utimes(join(dir, 'stuck.json.lock'), ago(2 * HOUR), ago(2 * HOUR));
    expect(await removeAbandonedLocks(dir, HOUR)).toBe(0);
    expect(await readdir(join(dir, 'stuck.json.lock'))).toEqual(['planted']);
  });

  it('is a no-op on a spool without active/', async () => {
    expect(await removeAbandonedLocks(join(root, 'nowhere'), HOUR)).toBe(0);
  });
});
