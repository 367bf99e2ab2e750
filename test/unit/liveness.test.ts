// The cross-host liveness signal (src/codex/liveness.ts): the launch shell keeps a run's alive file fresh exactly
// as long as Codex's process lives, a reader judges the file on the file server's clock, not its own, and a
// run judged dead is fenced: its launch, however late, never starts Codex.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  FENCED_EXIT,
  aliveAnywhere,
  aliveElseFenced,
  aliveFile,
  launchCommand,
  markAlive,
  serverNow,
  wasFenced,
} from '../../src/codex/liveness.js';
import { waitFor } from '../helpers/spool-env.js';
import { ifMissing } from '../../src/util/errors.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'liveness-'));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

describe('run liveness', () => {
  it('the launch keeps the alive file fresh while Codex lives, past the stop signals of its group, and removes it once Codex is gone', async () => {
    // A Codex slow to stop: it ignores the signals, once it has said so, and ends when the test lets it.
    const codex = launch(dir, '/bin/sh', ['-c', 'trap "" INT TERM HUP; touch "$0/ready"; until [ -e "$0/end" ]; do sleep 0.05; done', dir]);
    await waitFor('Codex started', () => stat(join(dir, 'ready')).catch(() => null));
    const beatAfter = (ms: number) =>
      waitFor('a beat', async () => {
        const st = await stat(aliveFile(dir)).catch(() => null);
        return st && st.mtimeMs > ms ? st : null;
      });
    const first = await beatAfter(0);
    const looping = await beatAfter(first.mtimeMs); // the loop's own beat: it runs, its traps set
    process.kill(-codex.pid!, 'SIGHUP'); // the group's stop signals before the kill: the loop outlives them
    const later = await beatAfter(looping.mtimeMs);
    expect(later.mtimeMs).toBeGreaterThan(looping.mtimeMs);
    await writeFile(join(dir, 'end'), '');
    await waitFor('the alive file removed', async () => !(await stat(aliveFile(dir)).catch(() => null)), 8_000);
  });

  it('a Codex that has exited but is not reaped (its worker paused) is not alive: the loop removes the file', async () => {
    const codex = launch(dir, 'sleep', ['0.3']);
    // This thread cannot reap it meanwhile: it waits synchronously, for the launch, then for the file to go.
    waitSync(() => existsSync(join(dir, 'launch')));
    const aliveWhileUnreaped = !waitSync(() => !existsSync(aliveFile(dir)));
    await exitOf(codex);
    expect(aliveWhileUnreaped).toBe(false);
  });

  it('a fenced run never starts Codex: its launch exits 75 and the run reads as fenced; a started one cannot be fenced', async () => {
    const stale = new Date(Date.now() - 60_000);
    await markAlive(dir);
    await utimes(aliveFile(dir), stale, stale); // its worker paused past the alive file's stale time
    expect(await aliveElseFenced(dir, await serverNow(dir))).toBe(false);
    const late = launch(dir, 'touch', [join(dir, 'ran')]);
    expect(await exitOf(late)).toBe(FENCED_EXIT);
    expect(await wasFenced(dir)).toBe(true);
    await expect(stat(join(dir, 'ran'))).rejects.toThrow(/ENOENT/);

    const other = await mkdtemp(join(tmpdir(), 'liveness-'));
    try {
      const started = launch(other, 'sleep', ['30']);
      await waitFor('the launch', () => readFile(join(other, 'launch'), 'utf8').catch(() => null));
      expect(await aliveElseFenced(other, await serverNow(other))).toBe(true);
      process.kill(-started.pid!, 'SIGKILL');
      await exitOf(started);
      expect(await wasFenced(other)).toBe(false);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('a launch racing a judge: judged dead, its Codex has ended or never starts (30 races at random offsets)', async () => {
    await fc.assert(
      // offsetMs < 0: the judge starts first and the launch |offsetMs| later; > 0: the other way round.
      fc.asyncProperty(fc.integer({ min: -8, max: 8 }), async (offsetMs) => {
        const run = await mkdtemp(join(tmpdir(), 'liveness-race-'));
        const exists = (name: string) => stat(join(run, name)).then(() => true, ifMissing(false));
        try {
          await markAlive(run);
          const stale = new Date(Date.now() - 60_000);
          await utimes(aliveFile(run), stale, stale);
          const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
          const [started, alive] = await Promise.all([
            wait(Math.max(0, -offsetMs)).then(() => launch(run, '/bin/sh', ['-c', 'touch "$0/ran"; sleep 0.1; touch "$0/ended"', run])),
            wait(Math.max(0, offsetMs)).then(async () => aliveElseFenced(run, await serverNow(run))),
          ]);
          const endedAtVerdict = await exists('ended');
          const code = await exitOf(started);
          const ran = await exists('ran');
          expect(code).toBe(ran ? 0 : FENCED_EXIT);
          if (!alive) expect({ ran, endedAtVerdict }).not.toEqual({ ran: true, endedAtVerdict: false });
        } finally {
          await rm(run, { recursive: true, force: true });
        }
      }),
      { numRuns: 30 },
    );
  });

  it('alive exactly while the file is at most 10 s old by the server clock; absent is dead', async () => {
    expect(await aliveAnywhere(dir, await serverNow(dir))).toBe(false);
    await markAlive(dir);
    const now = await serverNow(dir);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 30_000 }), async (ageMs) => {
        const t = new Date(now - ageMs);
        await utimes(aliveFile(dir), t, t);
        expect(await aliveAnywhere(dir, now)).toBe(ageMs <= 10_000);
      }),
      { numRuns: 40 },
    );
  });

  it("this host's clock plays no part: a reader whose clock is an hour ahead or behind judges alike", async () => {
    const stale = new Date(Date.now() - 20_000);
    for (const skewMs of [3_600_000, -3_600_000]) {
      const real = Date.now;
      vi.spyOn(Date, 'now').mockImplementation(() => real() + skewMs);
      await markAlive(dir);
      expect(await aliveAnywhere(dir, await serverNow(dir))).toBe(true);
      await utimes(aliveFile(dir), stale, stale);
      expect(await aliveAnywhere(dir, await serverNow(dir))).toBe(false);
      vi.restoreAllMocks();
    }
  });

  // runs/ of a shared spool (--allow-shared-spool) is writable by its other users: a name they can predict
  // may hold their link or FIFO. Through the link, recovery overwrote a file of the worker's user; on the
  // FIFO, it waited for ever.
  it("the server clock's probe neither writes through a link nor waits on a FIFO planted at its name", async () => {
    const victim = join(dir, 'victim');
    await writeFile(victim, 'mine\n');
    const runs = join(dir, 'runs');
    await mkdir(runs);
    await symlink(victim, join(runs, '.clock'));
    await serverNow(runs);
    expect(await readFile(victim, 'utf8')).toBe('mine\n');
    await rm(join(runs, '.clock'));
    execFileSync('mkfifo', [join(runs, '.clock')]);
    expect(await serverNow(runs)).toBeGreaterThan(0);
  });
});

/** Starts `cmd args` through the run's launch shell, as the runner does (a group of its own). */
function launch(runDir: string, cmd: string, args: string[]): ChildProcess {
  const [shell, argv] = launchCommand(runDir, cmd, args);
  return spawn(shell, argv, { stdio: 'ignore', detached: true });
}

/** Polls `done` every 50 ms without yielding to the event loop (no child is reaped), up to 8 s: whether it came true. */
function waitSync(done: () => boolean): boolean {
  const deadline = Date.now() + 8_000;
  while (!done() && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  return done();
}

const exitOf = (child: ChildProcess) =>
  new Promise<number | null>((resolve) =>
    child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code)),
  );
