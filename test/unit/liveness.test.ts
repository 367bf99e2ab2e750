// The cross-host liveness signal (src/codex/liveness.ts): a watcher keeps a run's alive file fresh exactly as
// long as Codex's process lives, and a reader judges the file on the file server's clock, not its own.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { aliveAnywhere, aliveFile, markAlive, serverNow, watchRun } from '../../src/codex/liveness.js';
import { waitFor } from '../helpers/spool-env.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'liveness-'));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

describe('run liveness', () => {
  it('the watcher rewrites the alive file while its process lives, and removes it once the process is gone', async () => {
    const codex = spawn('sleep', ['2.5'], { stdio: 'ignore' });
    watchRun(codex.pid!, dir);
    const first = await waitFor('the first beat', () => stat(aliveFile(dir)).catch(() => null));
    const later = await waitFor('a later beat', async () => {
      const st = await stat(aliveFile(dir)).catch(() => null);
      return st && st.mtimeMs > first.mtimeMs ? st : null;
    });
    expect(later.mtimeMs).toBeGreaterThan(first.mtimeMs);
    await new Promise((resolve) => codex.once('exit', resolve));
    await waitFor('the alive file removed', async () => !(await stat(aliveFile(dir)).catch(() => null)), 5_000);
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
});
