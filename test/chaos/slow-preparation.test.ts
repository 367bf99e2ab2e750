// A healthy worker whose run takes more than the alive file's stale time (10 s) to reach Codex's spawn (git
// status of a big repo, a worktree to create) must not have its run fenced by another job's launch on
// another tree (liveRunOn judges only runs on its own tree or session).
import { chmod, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli, endSpoolTest, makeTempRoot, startWorker, waitFor, waitForFinished, type TempRoot } from '../helpers/spool-env.js';
import { CHAOS } from './fixtures/chaos-kit.js';
import { ifMissing } from '../../src/util/errors.js';

let t: TempRoot;
beforeEach(async () => {
  t = await makeTempRoot();
});
afterEach(() => endSpoolTest(t));

describe.skipIf(!CHAOS)('chaos: a slow preparation', () => {
  it('a run whose git status takes 12 s before the spawn is not fenced by another job launched meanwhile', async () => {
    const shim = join(t.dir, 'shim');
    await mkdir(shim);
    // A big repo's `git status`: 12 s in repos named slow*, as the worker's pre-spawn snapshot runs it.
    await writeFile(join(shim, 'git'), '#!/bin/sh\ncase "$*" in *"/slow"*status*) sleep 12;; esac\nexec /usr/bin/git "$@"\n');
    await chmod(join(shim, 'git'), 0o755);
    t.env.PATH = `${shim}:${process.env.PATH}`;
    const [slow, fast] = [await t.repo('slow'), await t.repo('fast')];
    const worker = startWorker(t, ['--concurrency', '2', '--skip-codex-check']);
    expect((await cli(t, ['submit', '--id', 'slowjob', '--repo', slow, '--task', 'hi'])).code).toBe(0);
    const runs = join(t.root, 'runs');
    const run = await waitFor(
      'the slow run',
      async () => (await readdir(runs).catch(() => [] as string[])).find((n) => !n.startsWith('.')) ?? null,
    );
    const alive = join(runs, run, 'alive');
    // The worker is healthy, only busy: wait until its run's alive file is past the stale time, then launch another job.
    // (The run's directory is made a moment before its alive file.)
    const age = async () => Date.now() - ((await stat(alive).catch(ifMissing(null)))?.mtimeMs ?? Date.now());
    await waitFor('the alive file past 10 s', async () => (await age()) > 10_500, 20_000);
    expect((await cli(t, ['submit', '--id', 'fastjob', '--repo', fast, '--task', 'hi'])).code).toBe(0);
    await waitForFinished(t, 'fastjob');
    const { record } = await waitForFinished(t, 'slowjob');
    expect(await readFile(join(runs, run, 'launch'), 'utf8')).toBe('started');
    expect(record.attempts ?? 0).toBe(0);
    await worker.stop();
  }, 90_000);
});
