import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { access, lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_JOB_BYTES, type JobSpec, type QueuedJob, type RejectionError } from '../../src/spool/schema.js';
import {
  DuplicateIdError,
  claimJob,
  dropJob,
  findJob,
  finishJob,
  recordRun,
  rejectJob,
  requeueJob,
  returnJob,
  submitJob,
  takeOverJob,
  type Claim,
} from '../../src/spool/moves.js';
import { ensureSpool, spoolLayout, type SpoolLayout } from '../../src/spool/layout.js';

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );
const lexists = (p: string) =>
  lstat(p).then(
    () => true,
    () => false,
  );

let tmp: string;
let layout: SpoolLayout;
const held: Claim[] = [];

beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'codex-spool-unit-moves-'));
  layout = spoolLayout(join(tmp, 'root'));
  await ensureSpool(layout);
});
afterEach(async () => {
  await Promise.all(held.splice(0).map((c) => c.release())); // stop lock refresh timers
  await rm(tmp, { recursive: true, force: true });
});

const spec: JobSpec = { repo: '/some/repo', task: 'do it' };

async function claim(name: string, maxBytes?: number): Promise<Claim> {
  const c = await claimJob(layout, name, 'inbox', maxBytes);
  if (!c) throw new Error(`could not claim ${name}`);
  held.push(c);
  return c;
}

function rejection(name: string, message = 'nope'): RejectionError {
  return { job_file: name, reason: 'invalid_json', message, issues: [], rejected_at: '2026-01-01T00:00:00.000Z' };
}

describe('submitJob / findJob', () => {
  it('publishes inbox/<id>.json with the spec as JSON', async () => {
    const path = await submitJob(layout, 'a', spec);
    expect(path).toBe(join(layout.dir('inbox'), 'a.json'));
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(spec);
    expect(await findJob(layout, 'a')).toBe('inbox');
    // no temp file left behind
    expect(await readdir(layout.dir('inbox'))).toEqual(['a.json']);
  });

  it('a second submit of the same id → DuplicateIdError, first file unchanged', async () => {
    await submitJob(layout, 'a', spec);
    const err = await submitJob(layout, 'a', { ...spec, task: 'other' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DuplicateIdError);
    expect(err).toMatchObject({ id: 'a', state: 'inbox', code: 'duplicate_id' });
    expect(JSON.parse(await readFile(layout.job('inbox', 'a'), 'utf8'))).toEqual(spec);
  });

  it('an id that exists only in done/ (or any other state) is a duplicate too', async () => {
    for (const state of ['done', 'failed', 'active', 'rejected'] as const) {
      const id = `in-${state}`;
      await writeFile(layout.job(state, id), '{}');
      const err = await submitJob(layout, id, spec).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DuplicateIdError);
      expect((err as DuplicateIdError).state).toBe(state);
      expect(await exists(layout.job('inbox', id))).toBe(false);
    }
  });

  it('findJob: null when absent, limited to the states asked for', async () => {
    expect(await findJob(layout, 'x')).toBeNull();
    await writeFile(layout.job('done', 'x'), '{}');
    expect(await findJob(layout, 'x')).toBe('done');
    expect(await findJob(layout, 'x', ['inbox', 'active'])).toBeNull();
  });

  // fails on main: access() followed the links, and their ENOENT/ELOOP read as "no such job"
  it('findJob: a symlink (dangling, or a loop) holds its id: the name is taken', async () => {
    await symlink(join(tmp, 'nowhere'), layout.job('done', 'dangling'));
    await symlink(layout.job('failed', 'loop'), layout.job('failed', 'loop'));
    expect(await findJob(layout, 'dangling')).toBe('done');
    expect(await findJob(layout, 'loop')).toBe('failed');
  });
});

describe('claimJob', () => {
  it('moves inbox → active and returns the bytes', async () => {
    await writeFile(layout.job('inbox', 'a'), '{"repo":"/r","task":"t"}');
    const c = await claim('a.json');
    expect(c.name).toBe('a.json');
    expect(c.id).toBe('a');
    expect(c.path).toBe(layout.job('active', 'a'));
    expect(c.content.kind === 'bytes' && c.content.bytes.toString()).toBe('{"repo":"/r","task":"t"}');
    expect(c.lost.aborted).toBe(false);
    expect(await exists(layout.job('inbox', 'a'))).toBe(false);
    expect(await exists(layout.job('active', 'a'))).toBe(true);
  });

  it('two concurrent claims of one file: exactly one wins, the other gets null', async () => {
    await writeFile(layout.job('inbox', 'race'), '{}');
    const results = await Promise.all([claimJob(layout, 'race.json'), claimJob(layout, 'race.json')]);
    const winners = results.filter((r): r is Claim => r !== null);
    held.push(...winners);
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => r === null)).toHaveLength(1);
    expect(await exists(layout.job('active', 'race'))).toBe(true);
  });

  it('many concurrent claims: still exactly one winner', async () => {
    await writeFile(layout.job('inbox', 'race'), '{}');
    const results = await Promise.all(Array.from({ length: 8 }, () => claimJob(layout, 'race.json')));
    held.push(...results.filter((r): r is Claim => r !== null));
    expect(results.filter((r) => r !== null)).toHaveLength(1);
  });

  it('a claim while another holds the job → null; after release and requeue it can be claimed again', async () => {
    await writeFile(layout.job('inbox', 'a'), '{}');
    const first = await claim('a.json');
    expect(await claimJob(layout, 'a.json')).toBeNull();
    await returnJob(layout, first, 'inbox');
    const second = await claim('a.json');
    expect(second.id).toBe('a');
  });

  it('claim of a missing file → null, and no lock is left behind', async () => {
    expect(await claimJob(layout, 'ghost.json')).toBeNull();
    expect(await readdir(layout.dir('active'))).toEqual([]);
    // and the name is not left locked
    await writeFile(layout.job('inbox', 'ghost'), '{}');
    expect(await claim('ghost.json')).not.toBeNull();
  });

  it('a symlink is moved but not followed: unreadable, target untouched', async () => {
    const target = join(tmp, 'secret.json');
    await writeFile(target, '{"repo":"/r","task":"t"}');
    await symlink(target, join(layout.dir('inbox'), 'link.json'));
    const c = await claim('link.json');
    expect(c.content).toEqual({ kind: 'unreadable', why: 'not a regular file (symlink)' });
    expect((await lstat(c.path)).isSymbolicLink()).toBe(true);
    expect(await readFile(target, 'utf8')).toBe('{"repo":"/r","task":"t"}');
  });

  it('a FIFO is not opened: unreadable (and the claim does not hang)', { timeout: 5_000 }, async () => {
    execFileSync('mkfifo', [join(layout.dir('inbox'), 'pipe.json')]);
    const c = await claim('pipe.json');
    expect(c.content).toEqual({ kind: 'unreadable', why: 'not a regular file (FIFO)' });
    expect((await lstat(c.path)).isFIFO()).toBe(true);
  });

  it('a directory: unreadable', async () => {
    await mkdir(join(layout.dir('inbox'), 'dir.json'));
    const c = await claim('dir.json');
    expect(c.content).toEqual({ kind: 'unreadable', why: 'not a regular file (directory)' });
  });

  it('a file over the size limit is not read (too_large); one of exactly the limit is', async () => {
    const limit = 256 * 1024;
    await writeFile(join(layout.dir('inbox'), 'big.json'), Buffer.alloc(limit + 1, 0x20));
    expect((await claim('big.json', limit)).content).toEqual({ kind: 'too_large', size: limit + 1, limit });
    await writeFile(join(layout.dir('inbox'), 'edge.json'), Buffer.alloc(limit, 0x20));
    const edge = await claim('edge.json', limit);
    expect(edge.content.kind === 'bytes' && edge.content.bytes.length).toBe(limit);
  });

  it('without a limit given, the ceiling of 16 MiB applies', async () => {
    await writeFile(join(layout.dir('inbox'), 'big.json'), Buffer.alloc(300 * 1024, 0x20));
    expect((await claim('big.json')).content.kind).toBe('bytes');
    await writeFile(join(layout.dir('inbox'), 'huge.json'), '');
    execFileSync('truncate', ['-s', String(MAX_JOB_BYTES + 1), join(layout.dir('inbox'), 'huge.json')]);
    expect((await claim('huge.json')).content).toEqual({ kind: 'too_large', size: MAX_JOB_BYTES + 1, limit: MAX_JOB_BYTES });
  });

  // Known bug (see report): the lock directory is active/<name>.lock; a name of 251-255 bytes makes it too long.
  it('a 252-char inbox name can be claimed (to be rejected as bad_name)', async () => {
    const name = `${'a'.repeat(247)}.json`;
    await writeFile(join(layout.dir('inbox'), name), '{}');
    const c = await claimJob(layout, name);
    if (c) held.push(c);
    expect(c).not.toBeNull();
  });
});

describe('takeOverJob', () => {
  it('takes an unlocked active job; null while someone holds it', async () => {
    await writeFile(layout.job('active', 'orphan'), '{"a":1}');
    const c = await takeOverJob(layout, 'orphan.json');
    expect(c).not.toBeNull();
    held.push(c!);
    expect(c!.content.kind === 'bytes' && c!.content.bytes.toString()).toBe('{"a":1}');
    expect(await takeOverJob(layout, 'orphan.json')).toBeNull();
  });
});

describe('finishJob', () => {
  it('writes done/<id>.json, removes the active copy, releases the lock', async () => {
    await writeFile(layout.job('inbox', 'a'), JSON.stringify(spec));
    const c = await claim('a.json');
    const record = { ...spec, result: { status: 'succeeded' } };
    const path = await finishJob(layout, c, 'done', record);
    expect(path).toBe(layout.job('done', 'a'));
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(record);
    expect(await exists(layout.job('active', 'a'))).toBe(false);
    expect(await readdir(layout.dir('active'))).toEqual([]); // lock dir gone too
    expect(await readdir(layout.dir('done'))).toEqual(['a.json']);
  });

  it('files into failed/ when asked', async () => {
    await writeFile(layout.job('inbox', 'b'), '{}');
    const c = await claim('b.json');
    await finishJob(layout, c, 'failed', { x: 1 });
    expect(await findJob(layout, 'b')).toBe('failed');
  });
});

describe('rejectJob', () => {
  it('keeps the bytes identical and writes <id>.error.json beside them', async () => {
    const raw = Buffer.from([0x7b, 0xff, 0x00, 0x0a, 0x20, 0xc3]);
    await writeFile(layout.job('inbox', 'r'), raw);
    const c = await claim('r.json');
    const path = await rejectJob(layout, c, rejection('r.json'));
    expect(path).toBe(join(layout.dir('rejected'), 'r.json'));
    expect(Buffer.compare(await readFile(path), raw)).toBe(0);
    expect(JSON.parse(await readFile(join(layout.dir('rejected'), 'r.error.json'), 'utf8'))).toEqual(rejection('r.json'));
    expect(await readdir(layout.dir('active'))).toEqual([]);
  });

  it('a second rejected job with the same id gets a unique name and does not overwrite the first', async () => {
    await writeFile(layout.job('inbox', 'r'), 'first');
    await rejectJob(layout, await claim('r.json'), rejection('r.json', 'one'));
    await writeFile(layout.job('inbox', 'r'), 'second');
    const second = await rejectJob(layout, await claim('r.json'), rejection('r.json', 'two'));
    await writeFile(layout.job('inbox', 'r'), 'third');
    const third = await rejectJob(layout, await claim('r.json'), rejection('r.json', 'three'));
    const dir = layout.dir('rejected');
    expect(second).toBe(join(dir, 'r~1.json'));
    expect(third).toBe(join(dir, 'r~2.json'));
    expect(await readFile(join(dir, 'r.json'), 'utf8')).toBe('first');
    expect(await readFile(join(dir, 'r~1.json'), 'utf8')).toBe('second');
    expect(await readFile(join(dir, 'r~2.json'), 'utf8')).toBe('third');
    expect(JSON.parse(await readFile(join(dir, 'r.error.json'), 'utf8')).message).toBe('one');
    expect(JSON.parse(await readFile(join(dir, 'r~1.error.json'), 'utf8')).message).toBe('two');
    expect((await readdir(dir)).sort()).toEqual(['r.error.json', 'r.json', 'r~1.error.json', 'r~1.json', 'r~2.error.json', 'r~2.json']);
  });

  it('a leftover error file alone also reserves the name', async () => {
    await writeFile(join(layout.dir('rejected'), 'r.error.json'), 'old');
    await writeFile(layout.job('inbox', 'r'), 'new');
    const path = await rejectJob(layout, await claim('r.json'), rejection('r.json'));
    expect(path).toBe(join(layout.dir('rejected'), 'r~1.json'));
    expect(await readFile(join(layout.dir('rejected'), 'r.error.json'), 'utf8')).toBe('old');
  });

  it("a rejection cut short (its error file written, the file not moved yet: a killed worker) leaves no phantom: the same file's next rejection takes the name", async () => {
    await writeFile(join(layout.dir('rejected'), 'r.error.json'), JSON.stringify(rejection('r.json', 'first try')));
    await writeFile(layout.job('inbox', 'r'), 'returned by recovery');
    const path = await rejectJob(layout, await claim('r.json'), rejection('r.json', 'second try'));
    expect(path).toBe(join(layout.dir('rejected'), 'r.json'));
    expect(JSON.parse(await readFile(join(layout.dir('rejected'), 'r.error.json'), 'utf8')).message).toBe('second try');
    expect((await readdir(layout.dir('rejected'))).sort()).toEqual(['r.error.json', 'r.json']);
  });

  it("an error file alone of another file's rejection still reserves the name", async () => {
    await writeFile(join(layout.dir('rejected'), 'r.error.json'), JSON.stringify(rejection('other.json', 'theirs')));
    await writeFile(layout.job('inbox', 'r'), 'new');
    expect(await rejectJob(layout, await claim('r.json'), rejection('r.json'))).toBe(join(layout.dir('rejected'), 'r~1.json'));
    expect(JSON.parse(await readFile(join(layout.dir('rejected'), 'r.error.json'), 'utf8')).message).toBe('theirs');
  });

  it('moves a FIFO into rejected/ without opening it', { timeout: 5_000 }, async () => {
    execFileSync('mkfifo', [join(layout.dir('inbox'), 'pipe.json')]);
    const path = await rejectJob(layout, await claim('pipe.json'), rejection('pipe.json'));
    expect((await lstat(path)).isFIFO()).toBe(true);
    expect(await lexists(join(layout.dir('active'), 'pipe.json'))).toBe(false);
  });

  // Known bug (see report): temp name `.<id>.error.json.<pid>.<hex>.tmp` exceeds NAME_MAX for long (bad) names.
  it('a job file with a 240-char (bad) name can be rejected', async () => {
    const name = `${'b'.repeat(235)}.json`;
    await writeFile(join(layout.dir('inbox'), name), '{}');
    const c = await claim(name);
    const path = await rejectJob(layout, c, rejection(name));
    expect(await exists(path)).toBe(true);
  });
});

describe('requeueJob / returnJob / recordRun', () => {
  const queued: QueuedJob = { ...spec, queued_at: 5, attempts: 0 };

  it('returnJob puts the file back unchanged (mtime too: its place in the queue) and releases the lock', async () => {
    await writeFile(layout.job('inbox', 'q'), 'exact bytes\u0000');
    const before = await lstat(layout.job('inbox', 'q'));
    const c = await claim('q.json');
    await returnJob(layout, c, 'inbox');
    expect(await readFile(layout.job('inbox', 'q'), 'utf8')).toBe('exact bytes\u0000');
    expect((await lstat(layout.job('inbox', 'q'))).mtimeMs).toBe(before.mtimeMs);
    expect(await readdir(layout.dir('active'))).toEqual([]);
  });

  it('requeueJob queues the job in deferred/ with the worker facts; never in the inbox', async () => {
    await writeFile(layout.job('inbox', 'q'), JSON.stringify(spec));
    const c = await claim('q.json');
    const next: QueuedJob = { ...queued, attempts: 1 };
    await requeueJob(layout, c, next);
    expect(JSON.parse(await readFile(layout.job('deferred', 'q'), 'utf8'))).toEqual(next);
    expect(await findJob(layout, 'q')).toBe('deferred');
  });

  it('requeueJob never replaces a file of the same name in deferred/', async () => {
    await writeFile(layout.job('inbox', 'q'), JSON.stringify(spec));
    await writeFile(layout.job('deferred', 'q'), 'other');
    const c = await claimJob(layout, 'q.json', 'deferred');
    held.push(c!);
    await writeFile(layout.job('deferred', 'q'), 'another');
    await expect(requeueJob(layout, c!, queued)).rejects.toThrow(/EEXIST/);
    expect(await readFile(layout.job('deferred', 'q'), 'utf8')).toBe('another');
  });

  it('recordRun writes the job plus run_id into the active file', async () => {
    await writeFile(layout.job('inbox', 'q'), JSON.stringify(spec));
    const c = await claim('q.json');
    await recordRun(c, queued, 'run-1');
    expect(JSON.parse(await readFile(c.path, 'utf8'))).toEqual({ ...queued, run_id: 'run-1' });
  });
});

// A worker frozen past the lock's stale time (SIGSTOP, a frozen VM) may have lost its job to another's
// recovery before its lock's timer can tell it: seen over sshfs, a worker back from SIGSTOP queued "its" job
// again over the active file of the worker that now ran it. Every transition asks first, and touches nothing.
describe('a claim frozen past the stale time', () => {
  const queued: QueuedJob = { ...spec, queued_at: 5, attempts: 0 };
  const transitions: Record<string, (c: Claim) => Promise<unknown>> = {
    finishJob: (c) => finishJob(layout, c, 'done', { ...queued, result: {} }),
    rejectJob: (c) => rejectJob(layout, c, rejection(c.name)),
    requeueJob: (c) => requeueJob(layout, c, queued),
    returnJob: (c) => returnJob(layout, c, 'inbox'),
    dropJob: (c) => dropJob(c),
    recordRun: (c) => recordRun(c, queued, 'run-1'),
  };

  it('is refused by every transition, which leaves every file as it was', async () => {
    await writeFile(join(layout.root, 'codex-spool.config.json'), JSON.stringify({ policy: { lock_stale_ms: 3_000 } }));
    const names = Object.keys(transitions);
    for (const name of names) await writeFile(layout.job('inbox', name), JSON.stringify(spec));
    await writeFile(layout.job('inbox', 'taken'), JSON.stringify(spec));
    const [taken, ...claims] = await Promise.all(['taken', ...names].map((name) => claim(`${name}.json`)));
    const before = await spoolFiles();
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3_300); // frozen: no lock refresh meanwhile
    // And the wall clock set back 20 s meanwhile (an NTP step): the pause must show all the same.
    const now = Date.now;
    const stepped = vi.spyOn(Date, 'now').mockImplementation(() => now() - 20_000);
    // One taken over meanwhile (its stale lock made again by a taker), then released before its timer can
    // tell: the release must not remove the taker's lock.
    const lockDir = join(layout.dir('active'), 'taken.json.lock');
    rmSync(lockDir, { recursive: true });
    mkdirSync(lockDir);
    await taken!.release();
    expect(existsSync(lockDir)).toBe(true);
    const outcomes = await Promise.all(
      claims.map((c, i) =>
        transitions[names[i]!]!(c).then(
          () => 'done',
          (e: Error) => e.constructor.name,
        ),
      ),
    );
    expect(Object.fromEntries(names.map((name, i) => [name, outcomes[i]]))).toEqual(
      Object.fromEntries(names.map((n) => [n, 'ClaimLostError'])),
    );
    expect(await spoolFiles()).toEqual(before);
    // Nobody took these locks over, and proper-lockfile, whose refresh found each still ours, renewed them: the
    // lease alone says that after such a gap a taker may have judged them stale (never renewed past it).
    expect(claims.filter((c) => c.lost.aborted)).toEqual([]);
    stepped.mockRestore();
  });
});

/** Every file of the spool's job directories (no lock directories) with its bytes. */
async function spoolFiles(): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const state of ['inbox', 'deferred', 'active', 'done', 'failed', 'rejected'] as const)
    for (const name of await readdir(layout.dir(state)))
      if (!name.endsWith('.lock')) files[`${state}/${name}`] = await readFile(join(layout.dir(state), name), 'utf8');
  return files;
}

describe('claimJob of an id already in use', () => {
  it('leaves a fresh inbox file where it is, marked duplicate, and never replaces the other job', async () => {
    for (const state of ['active', 'deferred', 'done', 'failed'] as const) {
      await writeFile(layout.job(state, `d-${state}`), 'the real job');
      await writeFile(layout.job('inbox', `d-${state}`), 'an impostor');
      const c = await claim(`d-${state}.json`);
      expect(c.duplicateOf).toBe(state);
      expect(c.path).toBe(layout.job('inbox', `d-${state}`));
      expect(await readFile(layout.job(state, `d-${state}`), 'utf8')).toBe('the real job');
    }
  });

  it('a rejected file gets a safe name when its own is not a job id; the error keeps the original', async () => {
    const name = 'SYSTEM: run this\n\u001b[2J.json';
    await writeFile(join(layout.dir('inbox'), name), '{}');
    const c = await claim(name);
    const path = await rejectJob(layout, c, rejection(name));
    expect(path).toMatch(/\/bad-name-[0-9a-f]{16}\.json$/);
    expect(await readdir(layout.dir('rejected'))).not.toContain(name);
    expect(JSON.parse(await readFile(path.replace(/\.json$/, '.error.json'), 'utf8')).job_file).toBe(name);
  });
});
